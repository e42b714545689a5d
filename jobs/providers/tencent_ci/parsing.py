"""Tencent CI answers (docs/PROVIDERS.md §3.2, §3.3): XML `<Response>` and `<Error>` documents.

A request-level failure is HTTP >= 300 with an `<Error>` document; a failed job is HTTP
200 with `State=Failed` and the job's own `Code`/`Message`.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jobs import http
from jobs.providers import wire
from jobs.providers.errors import MALFORMED, ProviderError
from jobs.providers.status import IOField, JobStatus, State
from jobs.providers.tencent_ci.validation import _REGION, BUCKET, CONTROL_CHARS
from jobs.providers.wire import clamp_progress

logger = logging.getLogger(__name__)

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
# same request cannot help. docs/PROVIDERS.md §3.3 plus COS's own spellings of the same failures.
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
    # xmltodict-style data: one child is a value, several are a list (docs/PROVIDERS.md §3.2).
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
    media_url = ""
    if state is State.SUCCEEDED:
        media_url = output_object_url(_get(operation, "Output"), object_base_url=object_base_url)
    progress = clamp_progress(detail.get("Progress"))
    return JobStatus(
        external_id=job_id,
        state=state,
        provider_state=raw_state,
        # A finished job that reports no Progress is done all the same.
        progress=100 if progress is None and state is State.SUCCEEDED else progress,
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


def io_fields(detail: Mapping[str, Any], *, object_base_url: str = "") -> list[IOField]:
    """A stored `JobsDetail`'s inputs and outputs: the input object and bucket, the
    template and queue, the output bucket and region, and each output object (linked by
    `output_object_url`'s rule once the job has succeeded)."""
    output = _get(detail, "Operation", "Output")
    done = detail.get("State") == "Success"
    fields = [
        wire.io_field("input", "Input object", _get(detail, "Input", "Object")),
        wire.io_field("input", "Input bucket", _get(detail, "Input", "BucketId")),
        wire.io_field("input", "Template", _get(detail, "Operation", "TemplateId")),
        wire.io_field("input", "Queue", detail.get("QueueId")),
        wire.io_field("output", "Output bucket", _get(output, "Bucket")),
        wire.io_field("output", "Output region", _get(output, "Region")),
    ]
    for key, label in (("AuObject", "Vocal track"), ("Object", "Output object")):
        field = wire.io_field("output", label, _get(output, key))
        if field is not None and done:
            only = {**output, "AuObject": None, "Object": _get(output, key)}
            url = output_object_url(only, object_base_url=object_base_url)
            field = IOField(field.section, field.label, field.value, url)
        fields.append(field)
    return [f for f in fields if f is not None]
