"""Tencent Cloud Infinite (CI) media-processing jobs on COS, e.g. VoiceSeparate.

Wire facts are in PROVIDERS.md §3. Requests go to `<bucket>.ci.<region>.myqcloud.com`,
are signed with the COS `q-sign-algorithm=sha1` Authorization header, and speak XML both
ways. `GET /jobs/<id1>,<id2>,…` answers many jobs at once and lists the unknown ones in
`NonExistJobIds`; request-level failures are HTTP ≥ 300 with an `<Error>` document, while a
failed job is HTTP 200 with `State=Failed` and the job's own `Code`/`Message`.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from jobs import http
from jobs.providers import signing, wire
from jobs.providers.base import (
    NOT_FOUND,
    Explanation,
    FailureCategory,
    FetchResult,
    JobStatus,
    ListingPass,
    Provider,
    ProviderError,
    SchemaField,
    State,
)
from jobs.providers.errors import MALFORMED
from jobs.providers.wire import clamp_progress

logger = logging.getLogger(__name__)

JOBS_PATH = "/jobs"
XML_CONTENT_TYPE = "application/xml"
VOICE_SEPARATE = "VoiceSeparate"

# The SDK signs from now-60 s; we keep the validity short (10 min, the SDK uses 10000 s)
# since every request is signed just before it is sent.
KEY_TIME_BEFORE = 60
KEY_TIME_AFTER = 600

# The batch maximum is undocumented (Appendix C.3): stay well inside common URL limits.
MAX_BATCH_PATH_CHARS = 2000
MAX_LIST_SIZE = 100
# How far back the first import looks: CI documents no job-record retention (§3.5).
DISCOVERY_WINDOW = timedelta(days=30)

MAX_MESSAGE_CHARS = 300

STATES = {
    "Submitted": State.QUEUED,
    "Running": State.RUNNING,
    "Pause": State.PAUSED,
    "Success": State.SUCCEEDED,
    "Failed": State.FAILED,
    "Cancel": State.CANCELED,
}
RAW_STATES = {state: raw for raw, state in STATES.items()}

# 401/403 codes that mean the credentials (or the signing clock) are wrong: retrying the
# same request cannot help. PROVIDERS.md §3.3 plus COS's own spellings of the same failures.
AUTH_CODES = frozenset(
    {
        "MissingAuthorization",
        "InvalidAuthorization",
        "AccessDenied",
        "SecretidNotExist",
        "SignatureExpired",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "RequestTimeTooSkewed",
        "InvalidHost",
    }
)
# A saturated or paused queue clears up on its own (or when an operator resumes it).
TRANSIENT_CODES = frozenset({"QueueSaturated", "QueuePaused", "SlowDown", "ServiceUnavailable"})

# COS job ids are short alphanumerics; anything with a separator could not be asked for
# in a comma-separated batch path and is unknown to CI by construction.
_ASKABLE_ID = re.compile(r"[^\x00-\x20\x7f,/]{1,128}")
# Also the dashboard's VoiceSeparationForm checks: a bucket, a template id, no control
# characters in object keys.
BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?-[0-9]{5,}")
_REGION = re.compile(r"[a-z]{2,}(?:-[a-z0-9]+){1,3}")
_QUEUE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CODEC = re.compile(r"[A-Za-z0-9]{1,16}")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# PROVIDERS.md §3.1 is sure of `IsAudio` only; the others are the template API's values.
AUDIO_MODES = frozenset({"IsAudio", "IsBackground", "AudioAndBackground", "MusicMode"})
# COS object keys are at most 850 bytes of UTF-8.
MAX_OBJECT_KEY_BYTES = 850


# --- signing ---------------------------------------------------------------------------


def cos_encode(value: str) -> str:
    """COS's percent-encoding: UTF-8, only A-Z a-z 0-9 - _ . ~ left as they are."""
    return signing.rfc3986(value, safe="~")


def _canonical(pairs: Mapping[str, str]) -> tuple[str, str]:
    """(key list, key=value list) with lower-cased encoded keys, sorted; values keep case."""
    encoded = sorted((cos_encode(k).lower(), cos_encode(v)) for k, v in pairs.items())
    return ";".join(k for k, _ in encoded), "&".join(f"{k}={v}" for k, v in encoded)


def http_string(
    method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]
) -> str:
    """COS's HttpString. `path` is the *decoded* path; every param and header given is signed."""
    _, http_parameters = _canonical(params)
    _, http_headers = _canonical(headers)
    return f"{method.lower()}\n{path}\n{http_parameters}\n{http_headers}\n"


def string_to_sign(key_time: str, http_string_value: str) -> str:
    return f"sha1\n{key_time}\n{signing.sha1_hex(http_string_value)}\n"


def sign_key(secret_key: str, key_time: str) -> str:
    """The lower-case hex HMAC-SHA1 of the KeyTime; COS keys the next HMAC with the hex text."""
    return signing.hmac_sha1(secret_key, key_time).hex()


@dataclass(frozen=True)
class CosSignature:
    """Every intermediate of one COS signature (the tests compare them with Appendix B)."""

    key_time: str
    sign_key: str
    header_list: str
    url_param_list: str
    http_string: str
    string_to_sign: str
    signature: str
    authorization: str


def cos_sign(
    secret_id: str,
    secret_key: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    key_time: str,
) -> CosSignature:
    """Sign one request with COS `q-sign-algorithm=sha1` (PROVIDERS.md §3.4).

    `path` is decoded (e.g. `/exampleobject(腾讯云)`); `params` are all the URL params
    (valueless ones as ""); `headers` are exactly the headers to sign, which must be sent
    with the same values. `key_time` is `"<start>;<end>"` in unix seconds and doubles as
    the sign time.
    """
    header_list, _ = _canonical(headers)
    url_param_list, _ = _canonical(params)
    text = http_string(method, path, params, headers)
    to_sign = string_to_sign(key_time, text)
    key = sign_key(secret_key, key_time)
    signature = signing.hmac_sha1(key, to_sign).hex()
    authorization = (
        f"q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={key_time}&q-key-time={key_time}"
        f"&q-header-list={header_list}&q-url-param-list={url_param_list}"
        f"&q-signature={signature}"
    )
    return CosSignature(
        key_time, key, header_list, url_param_list, text, to_sign, signature, authorization
    )


def cos_authorization(
    secret_id: str,
    secret_key: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    key_time: str,
) -> str:
    """The `Authorization` header value for one request; see `cos_sign`."""
    return cos_sign(secret_id, secret_key, method, path, params, headers, key_time).authorization


def key_time_for(now: float) -> str:
    start = int(now)
    return f"{start - KEY_TIME_BEFORE};{start + KEY_TIME_AFTER}"


def encode_query(params: Mapping[str, str]) -> str:
    """The query string as sent: the same encoding the signature uses, keys in given case."""
    return "&".join(f"{cos_encode(k)}={cos_encode(v)}" for k, v in params.items())


# --- parsing ---------------------------------------------------------------------------


PROVIDER = "Cloud Infinite"


def _malformed(message: str) -> ProviderError:
    return wire.malformed(PROVIDER, message)


def parse_xml(body: bytes | str) -> ET.Element:
    """A CI XML document (DOCTYPE, entities and non-UTF-8 refused); see `wire.parse_xml`."""
    return wire.parse_xml(body, provider=PROVIDER)


def element_data(element: ET.Element) -> Any:
    """A CI element as plain JSON data; see `wire.element_data`."""
    return wire.element_data(element, provider=PROVIDER)


def _as_list(value: Any) -> list[Any]:
    # xmltodict-style data: one child is a value, several are a list (PROVIDERS.md §3.2).
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


@dataclass(frozen=True)
class JobsPage:
    """One `<Response>`: its JobsDetail entries (plain data), unknown ids and next token."""

    details: list[Any]
    missing_ids: list[str]
    next_token: str


def parse_jobs_response(body: bytes | str) -> JobsPage:
    """Parse the answer of GET /jobs/<ids>, GET /jobs or POST /jobs.

    Raises ProviderError MalformedResponse unless the document is a `<Response>`.
    The details are not validated here; `parse_status` does that per job.
    """
    return jobs_page(parse_xml(body))


def jobs_page(root: ET.Element) -> JobsPage:
    """The JobsPage of a parsed document; raises ProviderError unless it is a `<Response>`."""
    if root.tag != "Response":
        raise _malformed(f"expected a <Response> document, got <{root.tag[:40]}>")
    data = element_data(root)
    if not isinstance(data, Mapping):
        data = {}
    missing: list[str] = []
    for value in _as_list(data.get("NonExistJobIds")):
        if not isinstance(value, str):
            raise _malformed("NonExistJobIds is not a list of ids")
        # The docs do not show whether several ids are repeated elements or one
        # comma-separated value; accept both.
        missing.extend(part.strip() for part in value.split(",") if part.strip())
    return JobsPage(
        details=_as_list(data.get("JobsDetail")),
        missing_ids=missing,
        next_token=wire.text(data.get("NextToken")),
    )


def output_object_url(output: Any, *, object_base_url: str = "") -> str:
    """The URL of a job's output object, or "" when there is none we can name.

    Prefers `AuObject` (VoiceSeparate's vocal track) over `Object` (its background
    track, and every other tag's single output). The URL is the bucket's plain COS
    object URL `https://<Bucket>.cos.<Region>.myqcloud.com/<key>`; a private bucket
    will want a presigned URL to download it. With `object_base_url` (an account's
    endpoint override: a private gateway, the simulator) the key is addressed there.
    Keys with a `${…}` placeholder are skipped: the real name is decided by CI.
    """
    key = wire.text(_get(output, "AuObject")) or wire.text(_get(output, "Object"))
    key = key.lstrip("/")
    if not key or "${" in key or CONTROL_CHARS.search(key):
        return ""
    try:
        path = quote(key, safe="/")
    except UnicodeEncodeError:  # lone surrogates: not a key COS could hold
        return ""
    if object_base_url:
        return f"{object_base_url.rstrip('/')}/{path}"
    bucket = wire.text(_get(output, "Bucket"))
    region = wire.text(_get(output, "Region"))
    if not BUCKET.fullmatch(bucket) or not _REGION.fullmatch(region):
        return ""
    return f"https://{bucket}.cos.{region}.myqcloud.com/{path}"


def parse_status(detail: Any, *, external_id: str = "", object_base_url: str = "") -> JobStatus:
    """Normalise one `JobsDetail` (as produced by `element_data`) into a JobStatus.

    `external_id` names the job when given (else the payload's JobId); see
    `output_object_url` for `object_base_url`. `name` is the input object key, `kind` the
    job's Tag. Raises ProviderError MalformedResponse for a detail of the wrong shape.
    """
    if not isinstance(detail, Mapping):
        raise _malformed("JobsDetail is not a container")
    job_id = external_id or wire.text(detail.get("JobId"))
    if not job_id:
        raise _malformed("JobsDetail has no JobId")
    raw_state = detail.get("State")
    if not isinstance(raw_state, str) or not raw_state:
        raise _malformed("JobsDetail has no State")
    state = STATES.get(raw_state, State.UNKNOWN)
    if state is State.UNKNOWN:
        logger.warning("tencent_ci job %s reports unknown state %r", job_id, raw_state[:40])
    operation = detail.get("Operation")
    failure_code = failure_message = ""
    if state is State.FAILED:
        # Code/Message say "Success" on healthy jobs; they only mean something here.
        failure_code = wire.text(detail.get("Code"))
        failure_message = wire.text(detail.get("Message"))
    progress = clamp_progress(detail.get("Progress"))
    if progress is None and state is State.SUCCEEDED:
        progress = 100
    media_url = ""
    if state is State.SUCCEEDED:
        media_url = output_object_url(_get(operation, "Output"), object_base_url=object_base_url)
    return JobStatus(
        external_id=job_id,
        state=state,
        provider_state=raw_state,
        progress=progress,
        failure_code=failure_code,
        failure_message=failure_message,
        media_url=media_url,
        # GenerateMediaInfo reports seconds as a decimal string, e.g. "12.000000".
        duration_ms=wire.seconds_to_ms(_get(operation, "MediaInfo", "Format", "Duration")),
        created_at=wire.parse_time(detail.get("CreationTime")),
        started_at=wire.parse_time(detail.get("StartTime")),
        finished_at=wire.parse_time(detail.get("EndTime")),
        kind=wire.text(detail.get("Tag")),
        name=wire.text(_get(detail, "Input", "Object")),
        raw=wire.scrub(detail),
    )


def error_from_response(response: http.Response, *, secrets: Iterable[str] = ()) -> ProviderError:
    """The ProviderError for an answer that is an `<Error>` or has HTTP status ≥ 300.

    Auth codes (whatever the status) and other 4xx are permanent; 429/SlowDown is
    transient with `retry_after` (Retry-After or 1 s); 5xx, 3xx, queue trouble and bodies
    that are not a COS error document (code MalformedResponse) are transient. The message
    is the provider's code and message text, secrets redacted.
    """
    status = response.status
    try:
        root = parse_xml(response.body)
    except ProviderError:
        root = None
    if root is None or root.tag != "Error":
        return ProviderError(
            f"HTTP {status} without a COS error document", MALFORMED, http_status=status
        )
    data = element_data(root)
    code = wire.text(_get(data, "Code")).strip()[:64] or f"HTTP{status}"
    text = wire.text(_get(data, "Message")).strip()[:MAX_MESSAGE_CHARS] or "no message"
    message = http.redact(f"HTTP {status}: {text}", secrets)
    if status == 429 or code == "SlowDown":
        return ProviderError(
            message, code, retry_after=wire.throttle_delay(response.headers), http_status=status
        )
    if code not in AUTH_CODES and (status >= 500 or status < 400 or code in TRANSIENT_CODES):
        return ProviderError(message, code, http_status=status)
    return ProviderError(message, code, permanent=True, http_status=status)


# --- the adapter -----------------------------------------------------------------------


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not valid")
    return value


def _object_key(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if CONTROL_CHARS.search(value):
        raise ValueError(f"{what} contains control characters")
    if len(value.encode("utf-8")) > MAX_OBJECT_KEY_BYTES:
        raise ValueError(f"{what} is longer than {MAX_OBJECT_KEY_BYTES} bytes")
    return value


def _number(value: str | int, what: str) -> str:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    return str(int(text))


def _sub(parent: ET.Element, tag: str, text: str = "") -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text:
        element.text = text  # ElementTree escapes &, < and > when serialising
    return element


# --- job failure codes ------------------------------------------------------------

# What a Failed job's `JobsDetail.Code` means. CI publishes no catalogue of job-level
# codes (PROVIDERS.md §3.3): every entry below is a code the simulator emits
# (jobs/simulator/tencent_ci.py), and its meaning and category are our inference from
# the code name and message. Replace them with real codes as live accounts show them.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "InvalidInput": Explanation(
        FailureCategory.INPUT,
        "Input media unusable (e.g. no audio stream)",
        retry_helps=False,
        action="Check that the input object has an audio track in a supported format; "
        "replace it and submit again.",
    ),
    "DownloadFailed": Explanation(
        FailureCategory.INPUT,
        "Could not read the input object from the bucket",
        retry_helps=False,
        action="Check that the input object exists at that key and that Cloud Infinite "
        "may read the bucket, then submit again.",
    ),
    "AudioProcessFailed": Explanation(
        FailureCategory.INTERNAL,
        "Voice separation failed while processing",
        retry_helps=True,
        action="Submit the job again; if the same file keeps failing, check that it plays "
        "or contact Tencent support with the JobId.",
    ),
    "UploadFailed": Explanation(
        FailureCategory.INPUT,
        "Could not write the output to the bucket",
        retry_helps=False,
        action="Check that the output bucket and region exist and that Cloud Infinite may "
        "write there, then submit again.",
    ),
}


class TencentCi(Provider):
    """Cloud Infinite media jobs in one bucket (`bucket` option, `name-APPID`).

    Fetches up to `batch_size` jobs with one `GET /jobs/<id1>,<id2>,…`, lists jobs by
    tag and state, and submits VoiceSeparate jobs.
    """

    code = "tencent_ci"
    label = "Tencent Cloud Infinite"
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
    # Where a COS bucket, and so a job's input or output, can live: (region, place). From
    # Tencent's COS "Regions and Access Endpoints" page (cloud.tencent.com/document/product/
    # 436/6224), cross-checked with its tencentyun/qcloud-documents source and SDK region
    # tables; CI addresses the same regions (`<bucket>.ci.<region>.myqcloud.com`, §3.1).
    # Finance regions and Beijing Zone 1 take existing or approved buckets only.
    regions = (
        ("ap-beijing", "Beijing"),
        ("ap-nanjing", "Nanjing"),
        ("ap-shanghai", "Shanghai"),
        ("ap-guangzhou", "Guangzhou"),
        ("ap-chengdu", "Chengdu"),
        ("ap-chongqing", "Chongqing"),
        ("ap-beijing-1", "Beijing Zone 1"),
        ("ap-beijing-fsi", "Beijing Finance"),
        ("ap-shanghai-fsi", "Shanghai Finance"),
        ("ap-shenzhen-fsi", "Shenzhen Finance"),
        ("ap-hongkong", "Hong Kong, China"),
        ("ap-singapore", "Singapore"),
        ("ap-jakarta", "Jakarta"),
        ("ap-mumbai", "Mumbai"),
        ("ap-seoul", "Seoul"),
        ("ap-bangkok", "Bangkok"),
        ("ap-tokyo", "Tokyo"),
        ("na-siliconvalley", "Silicon Valley"),
        ("na-ashburn", "Virginia"),
        ("na-toronto", "Toronto"),
        ("sa-saopaulo", "São Paulo"),
        ("eu-frankfurt", "Frankfurt"),
    )
    default_rate_limit = 20.0
    batch_size = 50
    retention = None
    # [DOC] PROVIDERS.md §3.5: "Outputs live in your own COS bucket and persist until you
    # delete them." A private bucket still refuses unsigned reads.
    media_retention = None
    media_note = "writes results to your own COS bucket, where they stay until deleted"
    can_submit = True
    can_discover = True
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

    def _object_base_url(self) -> str:
        # With an endpoint override, outputs are addressed on the same gateway (this is how
        # the simulator serves them); otherwise on the bucket's own COS host.
        return self.base_url() if self.endpoint else ""

    def _queue_id(self, override: str | None = None) -> str:
        queue = override if override is not None else str(self.options.get("queue_id", ""))
        if queue:
            _check(queue, _QUEUE_ID, "queue id")
        return queue

    def _send_signed(
        self, method: str, path: str, params: Mapping[str, str] | None = None, body: bytes = b""
    ) -> JobsPage:
        """Sign and send one request; returns the parsed `<Response>` or raises ProviderError.

        `path` is decoded; it goes out percent-encoded (commas kept as batch separators).
        """
        params = dict(params or {})
        headers = {"Host": self.host}
        if method == "POST":
            headers["Content-Type"] = XML_CONTENT_TYPE
            headers["Content-Length"] = str(len(body))
        authorization = cos_authorization(
            self.credentials.get("secret_id", ""),
            self.credentials.get("secret_key", ""),
            method,
            path,
            params,
            headers,
            key_time_for(self.clock()),
        )
        query = encode_query(params)
        url = self.base_url() + quote(path, safe="/,") + (f"?{query}" if query else "")
        return self.exchange(
            method,
            url,
            headers={**headers, "Authorization": authorization},
            body=body,
            parse=lambda response: jobs_page(parse_xml(response.body)),
        )

    def raise_for_response(self, response: http.Response) -> None:
        # A 2xx that carries an <Error> document is still the provider's error.
        if response.status >= 300 or parse_xml(response.body).tag == "Error":
            raise error_from_response(response, secrets=self.secret_values())

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
        return results

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
        body = ET.tostring(request, encoding="unicode").encode("utf-8")

        page = self._send_signed("POST", JOBS_PATH, body=body)
        details = page.details
        job_id = wire.text(_get(details[0], "JobId")) if len(details) == 1 else ""
        if not job_id:
            raise _malformed("the answer to CreateMediaJobs carries no JobId")
        return job_id
