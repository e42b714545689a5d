"""MetaStudio answers (docs/PROVIDERS.md §4.3, §4.4): jobs of the list API and errors.

Failures arrive as `{error_code, error_msg}` with `MSS.*` codes from the service and
`APIGW.*` (or `APIG.*`) codes from the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from jobs import http
from jobs.providers import wire
from jobs.providers.errors import ProviderError
from jobs.providers.status import IOField, JobStatus, State

logger = logging.getLogger(__name__)

STATES = {
    "WAITING": State.QUEUED,
    "PROCESSING": State.RUNNING,
    "SUCCEED": State.SUCCEEDED,
    # The docs' own ShowPhotoDigitalHumanVideo example prints SUCCESS (docs/PROVIDERS.md §4.3).
    "SUCCESS": State.SUCCEEDED,
    "FAILED": State.FAILED,
    "CANCELED": State.CANCELED,
    # BLOCK means the job is frozen (e.g. the account is in arrears), not finished.
    "BLOCK": State.PAUSED,
}

KIND_2D = "2D_DIGITAL_HUMAN_VIDEO"
KIND_PHOTO = "PHOTO_DIGITAL_HUMAN_VIDEO"
# The list filter and web docs say PHOTO_DIGITAL_HUMAN_VIDEO, the SDK's response
# docstring DIGITAL_HUMAN_PHOTO_VIDEO; both are one kind to Clapboard.
KIND_ALIASES = {"DIGITAL_HUMAN_PHOTO_VIDEO": KIND_PHOTO}

# Gateway codes: 0301 is a failed AK/SK check (five in a row lock the AK for five
# minutes, so the engine must stop at once), 0308 is throttling.
SIGNATURE_CODES = frozenset({"APIGW.0301", "APIG.0301"})
THROTTLE_CODES = frozenset({"APIGW.0308", "APIG.0308"})
UNAUTHORIZED_CODE = "MSS.00000001"
INVALID_PARAMETER_CODE = "MSS.00000003"
INTERNAL_ERROR_CODE = "MSS.00000004"
# Gateway messages can echo a whole canonical request; keep stored messages short.
MAX_MESSAGE_CHARS = 500


# --- parsing ------------------------------------------------------------------------


def _malformed(what: str) -> ProviderError:
    return wire.malformed("MetaStudio", what)


def _duration_ms(value: Any) -> int | None:
    # A duration of 0 is a job that has not rendered yet, not an empty video.
    return wire.seconds_to_ms(value) or None


def normalize_kind(job_type: Any) -> str:
    kind = wire.text(job_type).upper()
    return KIND_ALIASES.get(kind, kind)


def parse_status(payload: Any, external_id: str = "") -> JobStatus:
    """One `DigitalHumanVideo` object as a JobStatus.

    Raises ProviderError("MalformedResponse") when the object has no usable job id or
    state; other fields of the wrong type are treated as absent. An unknown state is
    State.UNKNOWN with the raw value kept.
    """
    if not isinstance(payload, Mapping):
        raise _malformed("a job that is not an object")
    job_id = payload.get("job_id", external_id)
    if not isinstance(job_id, str) or not job_id.strip():
        raise _malformed("a job without a job_id")
    raw_state = payload.get("state")
    if not isinstance(raw_state, str):
        raise _malformed(f"job {job_id} without a state")
    state = STATES.get(raw_state.strip().upper(), State.UNKNOWN)
    if state is State.UNKNOWN:
        logger.warning("MetaStudio job %s reports an unknown state %r", job_id, raw_state)

    output = payload.get("output_asset_config")
    output = output if isinstance(output, Mapping) else {}
    error = payload.get("error_info")
    error = error if isinstance(error, Mapping) else {}
    return JobStatus(
        external_id=job_id,
        state=state,
        provider_state=raw_state,
        # The list reports no progress or queue position; only "done" is certain.
        progress=100 if state is State.SUCCEEDED else None,
        failure_code=wire.text(error.get("error_code")),
        failure_message=wire.text(error.get("error_msg")),
        media_url=wire.text(output.get("preview_video_url")),
        cover_url=wire.text(output.get("cover_url")),
        duration_ms=_duration_ms(payload.get("duration")),
        created_at=wire.parse_time(payload.get("create_time")),
        started_at=wire.parse_time(payload.get("start_time")),
        finished_at=wire.parse_time(payload.get("end_time")),
        kind=normalize_kind(payload.get("job_type")),
        name=wire.text(output.get("asset_name")),
        raw=wire.scrub(payload),
    )


def parse_list(payload: Any) -> list[JobStatus]:
    """The jobs of a ListDigitalHumanVideo answer `{"count", "jobs": [...]}`.

    Raises ProviderError("MalformedResponse") for any other shape.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("jobs"), list):
        raise _malformed("a list answer without a jobs array")
    return [parse_status(job) for job in payload["jobs"]]


def decode_json(body: bytes) -> Any:
    """The JSON document in a response body; ProviderError("MalformedResponse") if none."""
    try:
        return wire.decode_json(body)
    except ValueError:  # includes JSONDecodeError, UnicodeDecodeError
        raise _malformed("a body that is not JSON") from None


def error_from_response(response: http.Response, secrets: Iterable[str] = ()) -> ProviderError:
    """The request-level ProviderError for a non-2xx MetaStudio answer.

    Signature and authorization failures are permanent (retrying a bad signature
    only hastens the five-strike lock); throttling carries retry_after; 5xx and
    unreadable gateway pages are transient; other 4xx are permanent for the request.
    """
    status = response.status
    code = message = ""
    try:
        body = wire.decode_json(response.body)
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        code = wire.text(body.get("error_code"))
        message = wire.text(body.get("error_msg"))
    code = code or f"HTTP{status}"
    message = http.redact(message or f"MetaStudio answered HTTP {status}", secrets)
    message = message[:MAX_MESSAGE_CHARS]

    def error(permanent: bool, retry_after: float | None = None) -> ProviderError:
        return ProviderError(
            message, code, permanent=permanent, retry_after=retry_after, http_status=status
        )

    if code in THROTTLE_CODES or status == 429:
        return error(False, wire.throttle_delay(response.headers))
    if code in SIGNATURE_CODES or code == UNAUTHORIZED_CODE or status in (401, 403):
        return error(True)
    if code == INTERNAL_ERROR_CODE or status >= 500 or status == 408:
        return error(False)
    return error(True)


def io_fields(raw: Mapping[str, Any]) -> list[IOField]:
    """A stored video job's output asset: its id and name, the cover (linked)."""
    output = raw.get("output_asset_config")
    output = output if isinstance(output, Mapping) else {}
    fields = [
        wire.io_field("input", "Job type", raw.get("job_type")),
        wire.io_field("output", "Asset", output.get("asset_id")),
        wire.io_field("output", "Asset name", output.get("asset_name")),
        wire.io_field("output", "Cover", output.get("cover_url"), url=True),
    ]
    return [f for f in fields if f is not None]
