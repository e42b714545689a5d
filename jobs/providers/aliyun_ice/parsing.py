"""ICE answers (docs/PROVIDERS.md §5.3, §5.4): QueryIProductionJob jobs and request errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jobs import http
from jobs.providers import wire
from jobs.providers.errors import MALFORMED, ProviderError
from jobs.providers.status import IOField, JobStatus, State

logger = logging.getLogger(__name__)
# Provider messages are shown to operators; a runaway one must not fill the page.
MAX_MESSAGE_CHARS = 300

STATES: Mapping[str, State] = {
    "Queuing": State.QUEUED,
    "Analyzing": State.RUNNING,
    "Success": State.SUCCEEDED,
    "Fail": State.FAILED,
    # [UNCERTAIN] CancelIProductionJob exists, but no document names the Status a
    # canceled job then shows (docs/PROVIDERS.md §5.8); these spellings are taken as
    # canceled so an accepted cancel ends the job, any other value stays UNKNOWN.
    "Canceled": State.CANCELED,
    "Cancelled": State.CANCELED,
    "Cancel": State.CANCELED,
}


# --- payload parsing ---------------------------------------------------------------------


def _decode_json_string(value: Any) -> Any:
    """ICE nests JSON documents as strings (`Result`, `JobParams`); decode one if it
    decodes, else return it unchanged (a bad one must not lose the rest of the job)."""
    if not isinstance(value, str) or not value.strip():
        return value
    try:
        return wire.decode_json(value)
    except ValueError:
        return value


def _failure(result: Any) -> tuple[str, str]:
    """Failure code and message from a failed job's decoded `Result`.

    The schema is undocumented (docs/PROVIDERS.md §5.3); MPS's sibling API puts `Code` and
    `Message` at the top or inside `Data` (itself possibly a JSON string).
    """
    inner = _decode_json_string(result.get("Data")) if isinstance(result, Mapping) else None
    code = ""
    for candidate in (
        wire.first_text(result, "Code", "code"),
        wire.first_text(inner, "Code", "code"),
    ):
        if candidate and candidate.lower() != "success":
            code = candidate
            break
    message = wire.first_text(result, "Message", "message") or wire.first_text(
        inner, "Message", "message"
    )
    return code or "Fail", message


def _web_url(value: Any) -> str:
    # Only http(s) links are usable (and safe) in the dashboard; oss:// paths stay in raw.
    if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return ""


def _media_url(payload: Mapping[str, Any]) -> str:
    urls = payload.get("OutputUrls")
    if isinstance(urls, list):
        for url in urls:
            if _web_url(url):
                return _web_url(url)
    output = payload.get("Output")
    if isinstance(output, Mapping):
        return _web_url(output.get("OutputUrl"))
    return ""


def parse_status(payload: Any, *, external_id: str) -> JobStatus:
    """Normalize one QueryIProductionJob answer (HTTP 200 body, already JSON-decoded).

    Raises ProviderError("MalformedResponse", transient) when the payload is not a job
    object: not a mapping, `Status` missing or not a string, or another job's `JobId`.
    Unknown `Status` values become State.UNKNOWN with the raw value kept.
    """
    if not isinstance(payload, Mapping):
        raise _malformed("the answer is not a JSON object")
    provider_state = payload.get("Status")
    if not isinstance(provider_state, str):
        raise _malformed("the answer has no Status string")
    job_id = payload.get("JobId")
    if isinstance(job_id, str) and job_id and job_id != external_id:
        raise _malformed("the answer is about another JobId")

    state = STATES.get(provider_state, State.UNKNOWN)
    result = _decode_json_string(payload.get("Result"))
    failure_code = failure_message = ""
    if state is State.FAILED:
        failure_code, failure_message = _failure(result)
    raw = dict(payload)
    for nested in ("Result", "JobParams"):
        if nested in raw:
            raw[nested] = _decode_json_string(raw[nested])
    return JobStatus(
        external_id=external_id,
        state=state,
        provider_state=provider_state,
        # ICE reports no percentage; only a finished job's is known.
        progress=100 if state is State.SUCCEEDED else None,
        failure_code=failure_code,
        failure_message=failure_message,
        media_url=_media_url(payload) if state is State.SUCCEEDED else "",
        created_at=wire.parse_time(payload.get("CreateTime")),
        finished_at=wire.parse_time(payload.get("FinishTime")),
        kind=wire.first_text(payload, "FunctionName"),
        name=wire.first_text(payload, "Name"),
        raw=wire.scrub(raw),
    )


def _malformed(reason: str, http_status: int | None = None) -> ProviderError:
    return wire.malformed("ICE", reason, http_status=http_status)


# --- request-level errors ---------------------------------------------------------------

_AUTH_CODES = ("SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId")
_DENIED_CODES = ("Forbidden", "OperationDenied", "InvalidSecurityToken")
_THROTTLE_CODES = ("Throttling", "RequestsTooFrequent", "ServiceUnavailable.Throttling")
_NOT_FOUND_CODES = ("ResourceNotFound", "InvalidJobId", "JobNotFound", "InvalidParameter.JobId")


def _starts(code: str, prefixes: tuple[str, ...]) -> bool:
    # Alibaba refines codes with dotted suffixes (InvalidAccessKeyId.NotFound, .Inactive).
    return code.startswith(prefixes)


def is_account_failure(code: str) -> bool:
    """Whether `code` refuses the account (signature, key, RAM permission), not a job."""
    return _starts(code, _AUTH_CODES) or _starts(code, _DENIED_CODES)


def is_job_not_found(code: str, message: str) -> bool:
    """ICE's ways of saying "no such JobId": ResourceNotFound, or an InvalidParameter
    that names the JobId (the only parameter we send)."""
    if _starts(code, _NOT_FOUND_CODES):
        return True
    return code.startswith("InvalidParameter") and "jobid" in message.lower()


def error_from_response(response: http.Response, secrets: Sequence[str] = ()) -> ProviderError:
    """The ProviderError for an HTTP ≥ 400 answer (`{RequestId, HostId, Code, Message,
    Recommend}`), classified as permanent, throttled or transient.

    A not-found answer gets the provider's code here; `fetch` turns it into a per-id
    NOT_FOUND. `secrets` are redacted from the message.
    """
    status = response.status
    try:
        body = wire.decode_json(response.body)
    except ValueError:
        body = None
    code = wire.first_text(body, "Code", "code")
    if not code:
        # A proxy's or load balancer's page, not the API gateway: transient.
        return ProviderError(
            f"HTTP {status} without an ICE error body",
            MALFORMED if status < 500 else f"HTTP{status}",
            http_status=status,
        )
    message = wire.first_text(body, "Message", "message") or "no message"
    request_id = wire.first_text(body, "RequestId", "requestId")
    text = http.redact(message, secrets)[:MAX_MESSAGE_CHARS]
    if request_id:
        text += f" (RequestId {request_id[:64]})"

    def error(
        note: str = "", *, permanent: bool = False, retry_after: float | None = None
    ) -> ProviderError:
        return ProviderError(
            f"{note}{text}",
            code,
            permanent=permanent,
            retry_after=retry_after,
            http_status=status,
        )

    if code == "InvalidTimeStamp.Expired":
        # Not the credentials' fault and not permanent: this host's clock is off.
        return error(
            "the request time is more than 15 minutes from Alibaba Cloud's clock; "
            "check this server's clock (NTP). "
        )
    if _starts(code, _THROTTLE_CODES):
        return error(retry_after=wire.throttle_delay(response.headers))
    if code == "SignatureNonceUsed":
        return error("a retry with a fresh nonce will do. ")
    if is_account_failure(code):
        return error(permanent=True)
    if status >= 500 or code in ("InternalError", "ServiceUnavailable"):
        return error()
    if is_job_not_found(code, message) or status == 404:
        return error(permanent=True)
    if code.startswith(("InvalidParameter", "MissingParameter", "Missing", "InvalidTimeStamp")):
        # Our request is wrong; sending it again cannot help.
        return error(permanent=True)
    if code.startswith("Incorrect") and code.endswith("Status"):
        # Alibaba's "the resource is in the wrong state" family (ECS IncorrectTaskStatus):
        # a job past Queuing does not come back to it.
        return error(permanent=True)
    return error()


def io_fields(raw: Mapping[str, Any]) -> list[IOField]:
    """A stored QueryIProductionJob answer's inputs and outputs: the function, input and
    output media, the pipeline and template, and each output file with its URL (ICE lists
    `OutputFiles` and `OutputUrls` side by side)."""
    fields = [
        wire.io_field("input", "Function", raw.get("FunctionName")),
        wire.io_field("input", "Input media", _nested(raw, "Input", "Media")),
        wire.io_field("input", "Pipeline", _nested(raw, "ScheduleConfig", "PipelineId")),
        wire.io_field("input", "Template", raw.get("TemplateId")),
        wire.io_field("output", "Output media", _nested(raw, "Output", "Media")),
    ]
    files = raw.get("OutputFiles")
    urls = raw.get("OutputUrls")
    files = files if isinstance(files, list) else []
    urls = urls if isinstance(urls, list) else []
    for index, name in enumerate(files[:20]):
        field = wire.io_field("output", "Output file", name)
        if field is not None and index < len(urls):
            field = IOField(field.section, field.label, field.value, wire.link(urls[index]))
        fields.append(field)
    return [f for f in fields if f is not None]


def _nested(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data
