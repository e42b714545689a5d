"""Fake Tencent Cloud Infinite media-job API: `GET /jobs/<ids>`, `GET /jobs`, `POST /jobs`
and `PUT /jobs/<id>?cancel`.

Verifies the COS `q-sign-algorithm=sha1` Authorization header by recomputing it with the
adapter's signer from the headers and params the request lists, refuses a KeyTime window
that does not contain the simulator's clock, and answers in CI's XML shapes: `JobsDetail`
with `+0800` times, `NonExistJobIds` for unknown ids, `<Error>` documents with CI's HTTP
statuses (PROVIDERS.md §3.3).

A succeeded job's output object is `_sim/media/tencent_ci/<id>.wav` in the tenant's bucket;
the adapter addresses outputs on its endpoint override, so that is the simulator's own
media URL.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from jobs.providers import signing
from jobs.providers import tencent_ci as ci
from jobs.providers.base import ProviderError, parse_time
from jobs.simulator.base import ProviderSimulator, Refusal
from jobs.simulator.clock import Phase, SimJob
from jobs.simulator.tenants import Tenant
from jobs.simulator.wire import SimRequest, SimResponse

# CI reports times in China Standard Time, with a colon-less offset.
CHINA = timezone(timedelta(hours=8))
STATE_BY_PHASE = {
    Phase.QUEUED: "Submitted",
    Phase.RUNNING: "Running",
    Phase.PAUSED: "Pause",
    Phase.SUCCEEDED: "Success",
    Phase.FAILED: "Failed",
    Phase.CANCELED: "Cancel",
}
REFUSALS: dict[str, Refusal] = {
    # (HTTP status, Code, Message) as PROVIDERS.md §3.3 lists them.
    "signature": (403, "AccessDenied", "The request signature does not match."),
    "expired": (401, "SignatureExpired", "The request signature has expired."),
    "unknown_key": (401, "SecretidNotExist", "The SecretId does not exist."),
    "missing": (401, "MissingAuthorization", "The Authorization header is missing."),
    "invalid": (401, "InvalidAuthorization", "The Authorization header is malformed."),
    # CI does not document a Retry-After header on SlowDown; none is sent.
    "throttled": (429, "SlowDown", "Please reduce your request rate."),
    # PROVIDERS.md §3.3 spells it "InternalErrror" (a typo in the doc table).
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}
AUTH_FIELDS = (
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
)
MAX_BATCH_IDS = 100
# CancelMediaJob's refusal: the message is the one CI's doc names for it (PROVIDERS.md
# §3.6); its code and HTTP status, and the whole not-found answer, are the simulator's
# [UNCERTAIN] choices in CI's request-error shape.
NOT_MODIFIABLE = (400, "InvalidArgument", "The job provided can not be modified.")
NO_SUCH_JOB = (400, "InvalidArgument", "The job does not exist.")
DEFAULT_LIST_SIZE = 10
MEDIA_SECONDS = 12.0  # the length of the simulator's WAV


def ci_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(int(timestamp), CHINA).strftime("%Y-%m-%dT%H:%M:%S%z")


def error_xml(status: int, code: str, message: str, **headers: str) -> SimResponse:
    request_id = uuid.uuid4().hex
    root = ET.Element("Error")
    for tag, text in (
        ("Code", code),
        ("Message", message),
        ("RequestId", request_id),
        ("TraceId", uuid.uuid4().hex),
    ):
        ET.SubElement(root, tag).text = text
    body = ET.tostring(root, encoding="unicode")
    return SimResponse.xml(body, status, **{"x-ci-request-id": request_id, **headers})


def _add(parent: ET.Element, tag: str, text: str = "") -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _parse_query(query: str) -> dict[str, str]:
    # COS reads '+' literally (only %20 is a space), unlike parse_qs.
    params: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            params.setdefault(unquote(key), unquote(value))
    return params


def _parse_authorization(value: str) -> dict[str, str]:
    fields = {}
    for part in value.split("&"):
        key, sep, item = part.partition("=")
        if sep:
            fields[key] = item
    return fields


class CiSimulator(ProviderSimulator):
    code = "tencent_ci"
    key_field = "secret_id"
    demo_credentials = {
        "secret_id": "AKIDsimci7Q2b5c8d1e4f7a0b3c6d9e2f5a8b",
        "secret_key": "simcikey4f7a0b3c6d9e2f5a8b1c4d7e0f3a6",
    }
    demo_options = {
        "bucket": "clapboard-demo-1250000000",
        "queue_id": "psimci0d1e2f3a4b5c6d7e8f9a0b1c2d3",
    }
    demo_region = "ap-guangzhou"
    demo_kinds = (ci.VOICE_SEPARATE,)
    refusals = REFUSALS
    # CI's catalogue of job-level codes was not retrieved (PROVIDERS.md §3.3): these codes
    # and messages are the simulator's inventions, shaped like CI's request-level ones.
    failure_codes = (
        ("InvalidInput", "The input media has no audio stream."),
        ("DownloadFailed", "Failed to download the input object from the bucket."),
        ("AudioProcessFailed", "Voice separation failed while processing the audio."),
        ("UploadFailed", "Failed to upload the output object to the bucket."),
    )

    def matches(self, request: SimRequest) -> bool:
        return request.path == ci.JOBS_PATH or request.path.startswith(ci.JOBS_PATH + "/")

    # --- authentication ----------------------------------------------------------------

    def authenticate(self, request: SimRequest) -> Tenant:
        header = request.header("Authorization")
        if not header:
            raise self.refuse("missing")
        fields = _parse_authorization(header)
        if any(name not in fields for name in AUTH_FIELDS) or fields["q-sign-algorithm"] != "sha1":
            raise self.refuse("invalid")
        tenant = self.tenant(fields["q-ak"])
        key_time = fields["q-key-time"]
        try:
            start, end = (int(part) for part in key_time.split(";"))
        except ValueError:
            raise self.refuse("invalid") from None
        if not start <= self.now() <= end or fields["q-sign-time"] != key_time:
            raise self.refuse("expired")
        # Only what the client listed is signed; COS accepts unsigned extra params.
        header_names = [n for n in fields["q-header-list"].split(";") if n]
        param_names = [n for n in fields["q-url-param-list"].split(";") if n]
        headers = {}
        for name in header_names:
            value = request.headers.get(unquote(name))
            if value is None:
                raise self.refuse("signature")
            headers[name] = value
        received = {
            ci.cos_encode(k).lower(): (k, v) for k, v in _parse_query(request.query).items()
        }
        if any(name not in received for name in param_names):
            raise self.refuse("signature")
        params = dict(received[name] for name in param_names)
        expected = ci.cos_sign(
            fields["q-ak"],
            tenant.credentials["secret_key"],
            request.method,
            unquote(request.path),
            params,
            headers,
            key_time,
        )
        if not signing.same(expected.signature, fields["q-signature"]):
            raise self.refuse("signature")
        return tenant

    # --- answers -----------------------------------------------------------------------

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        path = unquote(request.path)
        if request.method == "GET" and path.startswith(ci.JOBS_PATH + "/"):
            return self._describe(path[len(ci.JOBS_PATH) + 1 :], tenant)
        if request.method == "GET" and path == ci.JOBS_PATH:
            return self._list(_parse_query(request.query), tenant)
        if request.method == "POST" and path == ci.JOBS_PATH:
            return self._create(request, tenant)
        if request.method == "PUT" and path.startswith(ci.JOBS_PATH + "/"):
            if ci.CANCEL_FLAG in _parse_query(request.query):
                return self._cancel(path[len(ci.JOBS_PATH) + 1 :], tenant)
        return error_xml(404, "InvalidUrl", "The requested URL is not supported.")

    def _describe(self, ids_text: str, tenant: Tenant) -> SimResponse:
        ids = [part for part in ids_text.split(",") if part]
        if not ids:
            return error_xml(400, "InvalidArgument", "No job id was given.")
        if len(ids) > MAX_BATCH_IDS:
            return error_xml(400, "InvalidArgument", f"At most {MAX_BATCH_IDS} job ids.")
        root = ET.Element("Response")
        unknown = []
        for external_id in dict.fromkeys(ids):
            job = self.job(external_id, tenant)
            if job is None:
                unknown.append(external_id)
            else:
                root.append(self.jobs_detail(job, tenant))
        for external_id in unknown:
            _add(root, "NonExistJobIds", external_id)
        return SimResponse.xml(ET.tostring(root, encoding="unicode"))

    def _cancel(self, job_id: str, tenant: Tenant) -> SimResponse:
        # One JobId per call, as documented: "a,b" is one id no job has.
        job = self.job(job_id, tenant)
        if job is None:
            return error_xml(*NO_SUCH_JOB)
        if not self.cancel_waiting(job):
            return error_xml(*NOT_MODIFIABLE)
        # CI answers an accepted cancel with 200 and no body.
        return SimResponse(200, b"", {"x-ci-request-id": uuid.uuid4().hex})

    def _list(self, params: dict[str, str], tenant: Tenant) -> SimResponse:
        tag = params.get("tag", "")
        if not tag:
            return error_xml(400, "InvalidArgument", "The tag parameter is required.")
        states = {s for s in params.get("states", "").split(",") if s and s != "All"}
        if states - set(STATE_BY_PHASE.values()):
            return error_xml(400, "InvalidArgument", "Unknown value in states.")
        try:
            size = int(params.get("size") or DEFAULT_LIST_SIZE)
            offset = int(params.get("nextToken") or 0)
        except ValueError:
            return error_xml(400, "InvalidArgument", "size and nextToken must be valid.")
        if not 1 <= size <= 100 or offset < 0:
            return error_xml(400, "InvalidArgument", "size must be between 1 and 100.")
        bounds = []
        for name in ("startCreationTime", "endCreationTime"):
            value = params.get(name, "")
            moment = parse_time(value) if value else None
            if value and moment is None:
                return error_xml(400, "InvalidArgument", f"{name} is not a valid time.")
            bounds.append(moment.timestamp() if moment else None)
        start, end = bounds
        now = self.now()
        queue = params.get("queueId", "")
        matching = []
        for job in self.jobs(tenant):
            state = self._raw_state(job, now)
            if self._kind(job) != tag or (states and state not in states):
                continue
            if queue and self._queue_id(job, tenant) != queue:
                continue
            # CI times are whole seconds: compare as the answer's CreationTime shows it.
            created = int(job.created)
            if (start is not None and created < start) or (end is not None and created > end):
                continue
            matching.append(job)
        matching.sort(key=lambda j: j.created, reverse=params.get("orderByTime") != "Asc")
        root = ET.Element("Response")
        for job in matching[offset : offset + size]:
            root.append(self.jobs_detail(job, tenant))
        if offset + size < len(matching):
            _add(root, "NextToken", str(offset + size))
        return SimResponse.xml(ET.tostring(root, encoding="unicode"))

    def _create(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        try:
            data = ci.element_data(ci.parse_xml(request.body))
        except ProviderError:
            return error_xml(400, "InvalidContent", "The request body is not valid XML.")

        def text(*path: str) -> str:
            value: Any = data
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            return value if isinstance(value, str) else ""

        if not isinstance(data, dict) or text("Tag") != ci.VOICE_SEPARATE:
            return error_xml(400, "InvalidArgument", "Tag must be VoiceSeparate.")
        output = {
            k: text("Operation", "Output", k) for k in ("Region", "Bucket", "Object", "AuObject")
        }
        if not text("Input", "Object"):
            return error_xml(400, "InvalidArgument", "Input.Object is required.")
        if not output["Region"] or not output["Bucket"]:
            return error_xml(
                400, "InvalidArgument", "Output.Region and Output.Bucket are required."
            )
        if not output["Object"] and not output["AuObject"]:
            return error_xml(
                400, "InvalidArgument", "Output.Object and Output.AuObject are both empty."
            )
        operation = data.get("Operation")
        template_id = text("Operation", "TemplateId")
        voice_separate = operation.get("VoiceSeparate") if isinstance(operation, dict) else None
        if not template_id and not isinstance(voice_separate, dict):
            return error_xml(400, "InvalidArgument", "TemplateId or VoiceSeparate is required.")
        job = self.sim.add_job(
            self.code,
            "j" + uuid.uuid4().hex,
            kind=ci.VOICE_SEPARATE,
            name=text("Input", "Object"),
            owner=tenant.credentials[self.key_field],
            extra={
                "input_object": text("Input", "Object"),
                "output": output,
                "template_id": template_id,
                "voice_separate": voice_separate if not template_id else None,
                "queue_id": text("QueueId"),
                "callback": text("CallBack"),  # kept for tests; pushes go to the targets
            },
        )
        root = ET.Element("Response")
        root.append(self.jobs_detail(job, tenant))
        return SimResponse.xml(ET.tostring(root, encoding="unicode"))

    # --- rendering ---------------------------------------------------------------------

    def _kind(self, job: SimJob) -> str:
        return job.kind or self.demo_kinds[job.seed % len(self.demo_kinds)]

    def _raw_state(self, job: SimJob, now: float) -> str:
        return job.raw_state or STATE_BY_PHASE[job.snapshot(now).phase]

    def _queue_id(self, job: SimJob, tenant: Tenant) -> str:
        return (
            job.extra.get("queue_id")
            or tenant.options.get("queue_id")
            or f"p{job.seed:016x}{job.seed:016x}"
        )

    def jobs_detail(self, job: SimJob, tenant: Tenant) -> ET.Element:
        """One `<JobsDetail>` for `job` as CI renders it right now."""
        snapshot = self.snapshot(job)
        state = job.raw_state or STATE_BY_PHASE[snapshot.phase]
        code, message = ("Success", "Success")
        if snapshot.phase is Phase.FAILED:
            code, message = self.failure_for(job)
        detail = ET.Element("JobsDetail")
        _add(detail, "Code", code)
        _add(detail, "Message", message)
        _add(detail, "JobId", job.external_id)
        _add(detail, "State", state)
        _add(detail, "CreationTime", ci_time(snapshot.created))
        _add(detail, "StartTime", ci_time(snapshot.started))
        _add(detail, "EndTime", ci_time(snapshot.finished))
        _add(detail, "QueueId", self._queue_id(job, tenant))
        _add(detail, "Tag", self._kind(job))
        input_object = job.extra.get("input_object") or job.name or f"input/{job.external_id}.mp4"
        _add(_add(detail, "Input"), "Object", input_object)
        operation = _add(detail, "Operation")
        template_id = job.extra.get("template_id", "")
        voice_separate = job.extra.get("voice_separate")
        if isinstance(voice_separate, dict):
            block = _add(operation, "VoiceSeparate")
            _add(block, "AudioMode", str(voice_separate.get("AudioMode", "")))
            config = voice_separate.get("AudioConfig")
            if isinstance(config, dict):
                config_element = _add(block, "AudioConfig")
                for key, value in config.items():
                    _add(config_element, key, str(value))
        else:
            _add(operation, "TemplateId", template_id or f"t{job.seed:032x}"[:34])
        output = job.extra.get("output") or {
            "Region": self.demo_region,
            "Bucket": tenant.options.get("bucket", ""),
            "Object": "",
            "AuObject": f"_sim/media/{self.code}/{job.external_id}.wav",
        }
        output_element = _add(operation, "Output")
        for key in ("Region", "Bucket", "Object", "AuObject"):
            _add(output_element, key, output.get(key, ""))
        if snapshot.phase is Phase.SUCCEEDED:
            media = _add(operation, "MediaInfo")
            duration = f"{MEDIA_SECONDS:.6f}"
            fmt = _add(media, "Format")
            _add(fmt, "Duration", duration)
            _add(fmt, "FormatName", "wav")
            _add(fmt, "NumStream", "1")
            audio = _add(_add(media, "Stream"), "Audio")
            for key, value in (
                ("Index", "0"),
                ("CodecName", "pcm_u8"),
                ("Channel", "1"),
                ("SampleRate", "8000"),
                ("Duration", duration),
            ):
                _add(audio, key, value)
        return detail

    # --- failures ----------------------------------------------------------------------

    def error(self, status: int, code: str | int, message: str) -> SimResponse:
        return error_xml(status, str(code), message)

    def wrong_shape(self) -> SimResponse:
        return SimResponse.xml(
            "<Response><JobsDetail>je8f65004eb8511eaaed4f377124a303c</JobsDetail>"
            "<Total>1</Total></Response>"
        )


Simulator = CiSimulator
