"""Tencent Cloud Infinite (CI) media-processing jobs on COS, e.g. VoiceSeparate.

Wire facts are in docs/PROVIDERS.md §3. Requests go to `<bucket>.ci.<region>.myqcloud.com`,
are signed with the COS Authorization header and speak XML both ways.
`GET /jobs/<id1>,<id2>,…` answers many jobs at once and lists the unknown ones in
`NonExistJobIds`; `PUT /jobs/<id>?cancel` cancels one job that has not started.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from jobs import http
from jobs.providers import wire
from jobs.providers.base import FetchResult, Provider, SchemaField
from jobs.providers.errors import MALFORMED, NOT_FOUND, ProviderError
from jobs.providers.listing import ListingPass
from jobs.providers.notify import Notice
from jobs.providers.status import CancelOutcome, IOField, JobStatus, State
from jobs.providers.tencent_ci import notify
from jobs.providers.tencent_ci.catalogue import FAILURE_CATALOGUE
from jobs.providers.tencent_ci.parsing import (
    AUTH_CODES,
    RAW_STATES,
    STATES,
    JobsPage,
    _get,
    _malformed,
    error_from_response,
    io_fields,
    jobs_page,
    parse_status,
    parse_xml,
)
from jobs.providers.tencent_ci.signing import cos_sign, encode_query, key_time_for
from jobs.providers.tencent_ci.validation import (
    _ASKABLE_ID,
    _CODEC,
    _QUEUE_ID,
    _REGION,
    AUDIO_MODES,
    BUCKET,
    REGIONS,
    TEMPLATE_ID,
    _check,
    _number,
    _object_key,
)

JOBS_PATH = "/jobs"
XML_CONTENT_TYPE = "application/xml"
VOICE_SEPARATE = "VoiceSeparate"
# The flag of CancelMediaJob, sent bare (`?cancel`) and left unsigned as the official SDK
# does (docs/PROVIDERS.md §3.6).
CANCEL_FLAG = "cancel"

# The batch maximum is undocumented (Appendix C.3): stay well inside common URL limits.
MAX_BATCH_PATH_CHARS = 2000
MAX_LIST_SIZE = 100
# How far back the first import looks: CI documents no job-record retention
# (docs/PROVIDERS.md §3.5).
DISCOVERY_WINDOW = timedelta(days=30)


def _sub(parent: ET.Element, tag: str, text: str = "") -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text:
        element.text = text  # ElementTree escapes &, < and > when serialising
    return element


class TencentCi(Provider):
    """Cloud Infinite media jobs in one bucket (`bucket` option, `name-APPID`).

    Fetches up to `batch_size` jobs with one `GET /jobs/<id1>,<id2>,…`, lists jobs by
    tag and state, and submits VoiceSeparate jobs.
    """

    code = "tencent_ci"
    label = "Tencent Cloud Infinite"
    notification_help = (
        "Set it as the queue's callback (CI console → queue → callback) or as a job's "
        "CallBack; XML or JSON."
    )
    credential_fields = (
        SchemaField(
            "secret_id", "SecretId", secret=False, aliases=("SecretId", "TENCENTCLOUD_SECRET_ID")
        ),
        SchemaField(
            "secret_key", "SecretKey", secret=True, aliases=("SecretKey", "TENCENTCLOUD_SECRET_KEY")
        ),
    )
    credentials_help = (
        "SecretId and SecretKey are on the CAM console's API Keys page "
        "(console.cloud.tencent.com/cam/capi; international: console.tencentcloud.com/cam/capi); "
        "the SecretKey is shown only when the key is created."
    )
    option_fields = (
        SchemaField(
            "bucket",
            "Bucket (name-APPID)",
            secret=False,
            required=True,
            help_text="The bucket bound to Cloud Infinite, e.g. examplebucket-1250000000.",
        ),
        SchemaField(
            "queue_id",
            "Queue ID",
            secret=False,
            required=False,
            help_text="Media-processing queue for submitted jobs and listing (optional).",
        ),
    )
    regions = REGIONS
    default_rate_limit = 20.0
    batch_size = 50
    retention = None
    # [DOC] docs/PROVIDERS.md §3.5: "Outputs live in your own COS bucket and persist until you
    # delete them." A private bucket still refuses unsigned reads.
    media_retention = None
    media_note = "writes results to your own COS bucket, where they stay until deleted"
    can_submit = True
    can_discover = True
    can_cancel = True
    # One job a call: CancelMediaJob takes one JobId and answers an empty 200 (§3.6).
    cancel_batch_size = 1
    # "Only jobs not yet executed can be canceled" (CI's CancelMediaJob doc): Submitted.
    cancellable_states = frozenset({State.QUEUED})
    failure_catalogue = FAILURE_CATALOGUE

    # --- URLs and signing ------------------------------------------------------------

    def default_base_url(self) -> str:
        """`https://<bucket>.ci.<region>.myqcloud.com`; raises ProviderError if either is bad."""
        bucket = str(self.options.get("bucket", ""))
        if not BUCKET.fullmatch(bucket):
            raise ProviderError(
                "the bucket option must look like name-APPID",
                "InvalidConfiguration",
                permanent=True,
            )
        if not _REGION.fullmatch(self.region or ""):
            raise ProviderError(
                "a region such as ap-beijing is required", "InvalidConfiguration", permanent=True
            )
        return f"https://{bucket}.ci.{self.region}.myqcloud.com"

    @classmethod
    def io_fields(cls, raw: Mapping[str, Any], *, endpoint: str = "") -> list[IOField]:
        parts = urlsplit(endpoint)  # outputs are on the override's gateway, as in fetch
        return io_fields(
            raw, object_base_url=f"{parts.scheme}://{parts.netloc}" if endpoint else ""
        )

    def _object_base_url(self) -> str:
        # With an endpoint override, outputs are addressed on the same gateway (this is how
        # the simulator serves them); otherwise on the bucket's own COS host.
        return self.base_url() if self.endpoint else ""

    def _queue_id(self, override: str | None = None) -> str:
        queue = override if override is not None else str(self.options.get("queue_id", ""))
        if queue:
            _check(queue, _QUEUE_ID, "queue id")
        return queue

    def _signed(
        self, method: str, path: str, params: Mapping[str, str], body: bytes, flag: str = ""
    ) -> tuple[str, dict[str, str]]:
        """(URL, headers) of one COS-signed request. `path` is decoded; it goes out
        percent-encoded (commas kept as batch separators). `flag` is a bare, unsigned query
        word (`?cancel`)."""
        headers = {"Host": self.host}
        if method in ("POST", "PUT"):
            # The SDK signs the Content-Length that requests adds to every PUT and POST.
            headers["Content-Length"] = str(len(body))
        if method == "POST":
            headers["Content-Type"] = XML_CONTENT_TYPE
        headers["Authorization"] = cos_sign(
            self.credentials.get("secret_id", ""),
            self.credentials.get("secret_key", ""),
            method,
            path,
            params,
            headers,
            key_time_for(self.clock()),
        ).authorization
        query = "&".join(part for part in (encode_query(params), flag) if part)
        return self.base_url() + quote(path, safe="/,") + (f"?{query}" if query else ""), headers

    def _send_signed(
        self, method: str, path: str, params: Mapping[str, str] | None = None, body: bytes = b""
    ) -> JobsPage:
        """Sign and send one request; returns the parsed `<Response>` or raises ProviderError."""
        url, headers = self._signed(method, path, dict(params or {}), body)
        return self.exchange(
            method,
            url,
            headers=headers,
            body=body,
            parse=lambda response: jobs_page(parse_xml(response.body)),
        )

    def raise_for_response(self, response: http.Response) -> None:
        # A 2xx that carries an <Error> document is still the provider's error; an empty
        # 2xx is CancelMediaJob's answer.
        if response.status >= 300 or (
            response.body.strip() and parse_xml(response.body).tag == "Error"
        ):
            raise error_from_response(response, secrets=self.secret_values())

    def refuses_job(self, error: ProviderError) -> bool:
        # A refused signature or key is the account's; InvalidUrl is our request's.
        return (
            super().refuses_job(error)
            and error.code not in AUTH_CODES
            and error.code != "InvalidUrl"
        )

    # --- the contract ----------------------------------------------------------------

    def _batches(self, ids: Sequence[str]) -> Iterable[list[str]]:
        batch: list[str] = []
        length = 0
        for external_id in ids:
            size = len(quote(external_id, safe="")) + 1
            if batch and (len(batch) >= self.batch_size or length + size > MAX_BATCH_PATH_CHARS):
                yield batch
                batch, length = [], 0
            batch.append(external_id)
            length += size
        if batch:
            yield batch

    @classmethod
    def parse_notification(cls, body: bytes, content_type: str) -> Notice:
        return notify.parse(body, content_type)

    def fetch(self, external_ids: Sequence[str]) -> FetchResult:
        """Fetch jobs with `GET /jobs/<id1>,<id2>,…` (split if the path would be too long).

        Ids in `NonExistJobIds`, and ids that cannot be CI job ids, are per-id NOT_FOUND;
        an id the answer leaves out entirely is a per-id transient MalformedResponse.
        Raises ProviderError when a request as a whole fails.
        """
        results: FetchResult = {}
        askable: list[str] = []
        for external_id in dict.fromkeys(external_ids):
            if isinstance(external_id, str) and _ASKABLE_ID.fullmatch(external_id):
                askable.append(external_id)
            else:
                results[external_id] = ProviderError(
                    "not a Cloud Infinite job id", NOT_FOUND, permanent=True
                )
        object_base_url = self._object_base_url()
        for batch in self._batches(askable):
            page = self._send_signed("GET", f"{JOBS_PATH}/{','.join(batch)}")
            wanted = set(batch)
            for detail in page.details:
                job_id = wire.text(_get(detail, "JobId"))
                if not job_id:
                    raise _malformed("a JobsDetail has no JobId")
                if job_id in wanted:
                    results[job_id] = parse_status(
                        detail, external_id=job_id, object_base_url=object_base_url
                    )
            missing = set(page.missing_ids)
            for external_id in batch:
                if external_id in results:
                    continue
                if external_id in missing:
                    results[external_id] = ProviderError(
                        "Cloud Infinite does not know this job (NonExistJobIds)",
                        NOT_FOUND,
                        permanent=True,
                    )
                else:
                    results[external_id] = ProviderError("the answer left this job out", MALFORMED)
        return {external_id: results[external_id] for external_id in dict.fromkeys(external_ids)}

    def cancel_one(self, external_id: str) -> CancelOutcome:
        """`PUT /jobs/<id>?cancel`: an empty 200 is accepted; CI's `<Error>` for a job that
        has started, finished or is unknown is the refusal (its Code and Message)."""
        if not isinstance(external_id, str) or not _ASKABLE_ID.fullmatch(external_id):
            return CancelOutcome(False, NOT_FOUND, "not a Cloud Infinite job id")
        url, headers = self._signed("PUT", f"{JOBS_PATH}/{external_id}", {}, b"", CANCEL_FLAG)
        try:
            self.exchange("PUT", url, headers=headers, parse=lambda _: None)
        except ProviderError as exc:
            return self.refusal(exc)
        return CancelOutcome(True)

    def check_credentials(self) -> None:
        """GET a made-up job id: 'unknown job' proves the signature and bucket are accepted."""
        self.fetch(["jclapboardcredentialcheck"])

    def list_jobs(
        self,
        *,
        states: Iterable[str] = (),
        next_token: str = "",
        size: int = MAX_LIST_SIZE,
        tag: str = VOICE_SEPARATE,
        created_after: datetime | None = None,
        oldest_first: bool = False,
    ) -> tuple[list[JobStatus], str]:
        """One page of `GET /jobs?tag=…`, newest first unless `oldest_first`; returns
        (jobs, next token or "").

        `states` are normalised `State`s or raw CI state names (empty: all states);
        `created_after` sends `startCreationTime` (inclusive, whole seconds).
        Raises ValueError for bad arguments, ProviderError for a failed request.
        """
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_LIST_SIZE:
            raise ValueError(f"size must be 1..{MAX_LIST_SIZE}")
        _check(tag, TEMPLATE_ID, "tag")
        raw_states: list[str] = []
        for state in states:
            if state in STATES:
                raw_states.append(state)
            elif state in RAW_STATES:
                raw_states.append(RAW_STATES[State(state)])
            else:
                raise ValueError(f"unknown Cloud Infinite state {state!r}")
        params = {"tag": tag}
        queue = self._queue_id()
        if queue:
            params["queueId"] = queue
        if raw_states:
            params["states"] = ",".join(dict.fromkeys(raw_states))
        params["size"] = str(size)
        if oldest_first:
            params["orderByTime"] = "Asc"
        if created_after is not None:
            start = created_after.replace(tzinfo=created_after.tzinfo or UTC).astimezone(UTC)
            params["startCreationTime"] = start.strftime("%Y-%m-%dT%H:%M:%S%z")
        if next_token:
            params["nextToken"] = next_token
        page = self._send_signed("GET", JOBS_PATH, params)
        object_base_url = self._object_base_url()
        jobs = [parse_status(d, object_base_url=object_base_url) for d in page.details]
        return jobs, page.next_token

    def discover(
        self, *, cursor: Mapping[str, Any], limit: int
    ) -> tuple[list[JobStatus], dict[str, Any]]:
        """One page of the bucket's VoiceSeparate jobs (in the account's queue, if it
        names one), all states, oldest first from the cursor's creation time; paged
        with NextToken. The first run looks back DISCOVERY_WINDOW."""
        listing = ListingPass.resume(
            cursor,
            now=datetime.fromtimestamp(self.clock(), UTC),
            first_window=DISCOVERY_WINDOW,
            retention=self.retention,
        )
        jobs, token = self.list_jobs(
            next_token=str(listing.page or ""),
            size=max(1, min(MAX_LIST_SIZE, limit)),
            created_after=listing.since,
            oldest_first=True,
        )
        return jobs, listing.after(jobs, token)

    def submit(  # type: ignore[override]
        self,
        *,
        input_object: str,
        output_bucket: str,
        output_region: str,
        background_object: str = "",
        voice_object: str = "",
        template_id: str = "",
        audio_mode: str = "",
        codec: str = "",
        samplerate: str | int = "",
        bitrate: str | int = "",
        channels: str | int = "",
        queue_id: str | None = None,
        callback_url: str = "",
    ) -> str:
        """Submit a VoiceSeparate job (CreateMediaJobs); returns its JobId.

        Give `template_id`, or inline parameters (`audio_mode` and optionally the audio
        config), not both. `voice_object` (AuObject) and `background_object` (Object) name
        the outputs in `output_bucket`; at least one is required. `queue_id` defaults to
        the account's option. Raises ValueError before sending anything when an argument
        is invalid, ProviderError when the request fails.
        """
        if not isinstance(input_object, str) or not input_object.strip():
            raise ValueError("input_object is required")
        _object_key(input_object, "input_object")
        _check(output_bucket, BUCKET, "output_bucket (name-APPID)")
        _check(output_region, _REGION, "output_region")
        _object_key(background_object, "background_object")
        _object_key(voice_object, "voice_object")
        if not background_object and not voice_object:
            raise ValueError("give voice_object, background_object or both")
        audio_config = {
            "Codec": _check(codec, _CODEC, "codec") if codec else "",
            "Samplerate": _number(samplerate, "samplerate") if samplerate != "" else "",
            "Bitrate": _number(bitrate, "bitrate") if bitrate != "" else "",
            "Channels": _number(channels, "channels") if channels != "" else "",
        }
        inline = bool(audio_mode) or any(audio_config.values())
        if template_id and inline:
            raise ValueError("give template_id or inline audio parameters, not both")
        if template_id:
            _check(template_id, TEMPLATE_ID, "template_id")
        elif audio_mode not in AUDIO_MODES:
            raise ValueError(
                "give template_id, or audio_mode as one of " + ", ".join(sorted(AUDIO_MODES))
            )
        queue = self._queue_id(queue_id)

        request = ET.Element("Request")
        _sub(request, "Tag", VOICE_SEPARATE)
        _sub(_sub(request, "Input"), "Object", input_object)
        operation = _sub(request, "Operation")
        if template_id:
            _sub(operation, "TemplateId", template_id)
        else:
            voice_separate = _sub(operation, "VoiceSeparate")
            _sub(voice_separate, "AudioMode", audio_mode)
            if any(audio_config.values()):
                config = _sub(voice_separate, "AudioConfig")
                for tag, value in audio_config.items():
                    if value:
                        _sub(config, tag, value)
        output = _sub(operation, "Output")
        _sub(output, "Region", output_region)
        _sub(output, "Bucket", output_bucket)
        if background_object:
            _sub(output, "Object", background_object)
        if voice_object:
            _sub(output, "AuObject", voice_object)
        if queue:
            _sub(request, "QueueId", queue)
        if callback_url:  # the job's own callback (the queue's otherwise): a notification
            _sub(request, "CallBack", callback_url)
        body = ET.tostring(request, encoding="unicode").encode("utf-8")

        page = self._send_signed("POST", JOBS_PATH, body=body)
        details = page.details
        job_id = wire.text(_get(details[0], "JobId")) if len(details) == 1 else ""
        if not job_id:
            raise _malformed("the answer to CreateMediaJobs carries no JobId")
        return job_id
