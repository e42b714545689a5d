"""Fake Alibaba Cloud ICE answering `QueryIProductionJob` and `CancelIProductionJob`
(2020-11-09).

Verifies ACS3-HMAC-SHA256 like the real gateway: the Authorization names the signed
headers, which must cover host and every x-acs-* header; the signature is recomputed
from the request as received; x-acs-date must be within 15 minutes of the simulator's
clock and a signature nonce may be used once per 15 minutes. Answers use the SDK's
response shape (PROVIDERS.md §5.3), `Result` being a JSON document inside a string.
A cancel is idempotent by ClientToken, as the API's parameter promises: a repeated
token gets the first answer again (PROVIDERS.md §5.8).

Tests can override any top-level answer field through `SimJob.extra` (for example
`extra={"Result": "not json"}`).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from jobs.providers import signing
from jobs.providers.aliyun_ice import (
    ACTION,
    API_VERSION,
    CANCEL_ACTION,
    CLOCK_TOLERANCE_SECONDS,
    DATE_FORMAT,
    acs3_authorization,
    parse_acs3_authorization,
)
from jobs.providers.signing import SignedRequest
from jobs.simulator.base import ProviderSimulator, Refusal
from jobs.simulator.clock import Phase, SimJob
from jobs.simulator.tenants import Tenant
from jobs.simulator.wire import SimRequest, SimResponse

if TYPE_CHECKING:
    from jobs.simulator.server import Simulator as SimulatorCore

STATUS_FOR_PHASE = {
    Phase.QUEUED: "Queuing",
    # ICE has no paused state; a paused job looks like one still waiting.
    Phase.PAUSED: "Queuing",
    Phase.RUNNING: "Analyzing",
    Phase.SUCCEEDED: "Success",
    Phase.FAILED: "Fail",
    # INVENTED: CancelIProductionJob exists but the resulting Status is undocumented
    # (PROVIDERS.md §5.8); the adapter takes this spelling (and two others) as canceled.
    Phase.CANCELED: "Canceled",
}


# The gateway's refusals (Alibaba's common error codes), by reason: one row each, as a table.
# fmt: off
REFUSALS: dict[str, Refusal] = {
    "signature": (400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."),
    "expired": (400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."),
    "unknown_key": (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
    "throttled": (400, "Throttling.User", "Request was denied due to user flow control."),
    "internal": (500, "InternalError", "The request processing has failed due to some unknown error, exception or failure."),
    # The Authorization header is not ACS3-HMAC-SHA256 at all.
    "incomplete": (400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."),
    # The signature leaves out a header the gateway insists on signing.
    "unsigned_headers": (400, "IncompleteSignature", "SignedHeaders must include host, content-type and every x-acs-* header."),
    # x-acs-date is not ISO 8601 UTC (a skewed one is "expired").
    "bad_date": (400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."),
    "no_nonce": (400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action."),
    "nonce_used": (400, "SignatureNonceUsed", "Specified signature nonce was used already."),
    # INVENTED: ICE documents no refusal of CancelIProductionJob; the code follows Alibaba's
    # Incorrect*Status naming (ECS's IncorrectTaskStatus), the rule PROVIDERS.md §5.8's.
    "not_queuing": (400, "IncorrectJobStatus", "The job can be canceled only while it is Queuing."),
}
# fmt: on


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime(DATE_FORMAT)


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


class AliyunIceSimulator(ProviderSimulator):
    # The Status of a canceled ICE job is undocumented: the demo world makes none (a
    # CancelIProductionJob still cancels a Queuing job).
    can_cancel = False
    code = "aliyun_ice"
    key_field = "access_key_id"
    demo_credentials = {
        "access_key_id": "LTAI5tSimIceDemoKey0001",
        "access_key_secret": "SimIceDemoSecret0000000000000001",
    }
    demo_region = "cn-shanghai"
    refusals = REFUSALS
    demo_kinds = ("MusicDemix", "SpeechDenoise", "VideoDetext", "CaptionExtraction")
    # INVENTED: ICE documents no per-job failure codes; these follow Alibaba's naming.
    failure_codes = (
        ("InvalidInput.NotExist", "The input media does not exist or cannot be read."),
        ("InvalidInput.Format", "The input file format is not supported by this function."),
        ("InvalidInput.NoAudioStream", "The input media has no audio stream."),
        ("AlgorithmProcessError", "The algorithm failed to process the input media."),
    )

    def __init__(self, sim: SimulatorCore) -> None:
        super().__init__(sim)
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._nonce_lock = threading.Lock()
        # (access key id, ClientToken) -> the tenant and the answer the first cancel with
        # that token got; a reset world has new tenant objects, so old answers lapse.
        self._cancels: dict[tuple[str, str], tuple[Tenant, int, bytes]] = {}
        self._cancel_lock = threading.Lock()

    @property
    def host_id(self) -> str:
        return f"ice.{self.demo_region}.aliyuncs.com"

    # --- wire helpers ---------------------------------------------------------------

    def error(self, status: int, code: str | int, message: str) -> SimResponse:
        return SimResponse.json(
            {
                "RequestId": _request_id(),
                "HostId": self.host_id,
                "Code": code,
                "Message": message,
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=ICE",
            },
            status,
        )

    # --- protocol -------------------------------------------------------------------

    def matches(self, request: SimRequest) -> bool:
        return bool(request.header("x-acs-action"))

    def authenticate(self, request: SimRequest) -> Tenant:
        parsed = parse_acs3_authorization(request.header("Authorization"))
        if parsed is None:
            raise self.refuse("incomplete")
        key_id, signed_names, signature = parsed
        tenant = self.tenant(key_id)

        sent_names = {name.lower() for name in request.headers.keys()}
        required = {"host"} | {n for n in sent_names if n.startswith("x-acs-")}
        required |= {"content-type"} & sent_names
        if not required <= set(signed_names):
            raise self.refuse("unsigned_headers")

        self._check_date(request.header("x-acs-date"))
        nonce = request.header("x-acs-signature-nonce")
        if not nonce:
            raise self.refuse("no_nonce")
        if request.header("x-acs-content-sha256") != signing.sha256_hex(request.body):
            raise self.refuse("signature")

        headers: dict[str, str] = {}
        for name in signed_names:
            value = request.headers.get(name)
            if value is None:
                raise self.refuse("signature")
            headers[name] = value
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        expected = acs3_authorization(
            key_id,
            tenant.credentials.get("access_key_secret", ""),
            SignedRequest(request.method, request.path, query, headers, request.body),
        )
        given = request.header("Authorization").strip()
        if not signing.same(expected, given):
            raise self.refuse("signature")
        self._use_nonce(key_id, nonce)
        return tenant

    def _check_date(self, value: str) -> None:
        try:
            sent = datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise self.refuse("bad_date") from None
        if abs(self.now() - sent) > CLOCK_TOLERANCE_SECONDS:
            raise self.refuse("expired")

    def _use_nonce(self, key_id: str, nonce: str) -> None:
        now = self.now()
        with self._nonce_lock:
            # Entries are in arrival order, so the stale ones are at the front.
            while self._nonces:
                oldest_key, seen = next(iter(self._nonces.items()))
                if now - seen <= CLOCK_TOLERANCE_SECONDS:
                    break
                del self._nonces[oldest_key]
            if (key_id, nonce) in self._nonces:
                raise self.refuse("nonce_used")
            self._nonces[(key_id, nonce)] = now

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        action = request.header("x-acs-action")
        if action not in (ACTION, CANCEL_ACTION) or request.method not in ("GET", "POST"):
            return self.error(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            )
        if request.header("x-acs-version") != API_VERSION:
            return self.error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        job_id = query.get("JobId", "")
        if not job_id:
            return self.error(400, "MissingJobId", "JobId is mandatory for this action.")
        if action == CANCEL_ACTION:
            return self._cancel(job_id, query.get("ClientToken", ""), tenant)
        job = self.job(job_id, tenant)
        if job is None:
            return self.error(404, "ResourceNotFound", "The specified resource is not found.")
        return SimResponse.json(self.render(job))

    def _cancel(self, job_id: str, client_token: str, tenant: Tenant) -> SimResponse:
        key = (tenant.credentials[self.key_field], client_token)
        # One cancel at a time, so two requests with one token cannot both act.
        with self._cancel_lock:
            first = self._cancels.get(key) if client_token else None
            if first is not None and first[0] is tenant:
                return SimResponse(first[1], first[2], {"Content-Type": "application/json"})
            job = self.job(job_id, tenant)
            if job is None:
                answer = self.error(404, "ResourceNotFound", "The specified resource is not found.")
            elif not self.cancel_waiting(job):
                answer = self.error(*self.refusals["not_queuing"])
            else:
                answer = SimResponse.json({"RequestId": _request_id(), "Message": "Success"})
            if client_token:
                self._cancels[key] = (tenant, answer.status, answer.body)
            return answer

    def render(self, job: SimJob) -> dict[str, Any]:
        """The QueryIProductionJob body for `job` at the simulator's current time."""
        snapshot = self.snapshot(job)
        kind = job.kind or self.demo_kinds[job.seed % len(self.demo_kinds)]
        payload: dict[str, Any] = {
            "RequestId": _request_id(),
            "JobId": job.external_id,
            "Name": job.name or f"{kind.lower()}-{job.seed % 10000:04d}",
            "FunctionName": kind,
            "Input": {"Type": "OSS", "Media": f"oss://clapboard-sim/in/{job.external_id}.mp4"},
            "Output": {"Type": "OSS", "Media": f"oss://clapboard-sim/out/{job.external_id}/"},
            "Status": job.raw_state or STATUS_FOR_PHASE[snapshot.phase],
            "JobParams": "{}",
            "CreateTime": _iso(snapshot.created),
            "ScheduleConfig": {"PipelineId": "ee4c1b2b0c4a4f4f8d0e5a0c3b2a1d9e", "Priority": 6},
            "TemplateId": "",
            "UserData": json.dumps({"source": "clapboard-sim"}),
        }
        if snapshot.finished is not None:
            payload["FinishTime"] = _iso(snapshot.finished)
        if snapshot.phase is Phase.SUCCEEDED:
            # The per-function Result of these four algorithms is documented as "{}".
            payload["Result"] = "{}"
            payload["OutputFiles"] = [f"out/{job.external_id}/output.wav"]
            payload["OutputUrls"] = [self.media_url(job)]
            payload["OutputMediaIds"] = []
        elif snapshot.phase is Phase.FAILED:
            code, message = self.failure_for(job)
            # ASSUMPTION (PROVIDERS.md §5.3): the reason rides in Result as Code/Message.
            payload["Result"] = json.dumps({"Code": code, "Message": message})
        payload.update(job.extra)
        return payload


Simulator = AliyunIceSimulator
