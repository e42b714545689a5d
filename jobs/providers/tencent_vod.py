"""Tencent Cloud VOD (API 3.0, version 2018-07-17): DescribeTaskDetail and DescribeTasks.

Wire facts (PROVIDERS.md §2): every call is `POST /` with a JSON body, signed with
TC3-HMAC-SHA256 over `content-type;host`, and every answer is HTTP 200 with a
`Response` object; a request-level failure is `Response.Error`. The surprise is that
`Status=FINISH` only means "finished": success or failure lives in the type-specific
sub-task object (`ProcedureTask`, `EditMediaTask`, `AigcVideoTask`...) and in the
result sets nested inside it, as `ErrCode` / `ErrCodeExt` / an inner `Status=FAIL`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from jobs import http
from jobs.providers import signing, wire
from jobs.providers.base import (
    NOT_FOUND,
    UNKNOWN_FAILURE,
    Explanation,
    FailureCategory,
    JobStatus,
    ListingPass,
    Provider,
    ProviderError,
    SchemaField,
    State,
    status_error,
)
from jobs.providers.errors import MALFORMED
from jobs.providers.wire import DEFAULT_RETRY_AFTER, as_int, clamp_progress, iso_utc

logger = logging.getLogger(__name__)

SERVICE = "vod"
API_VERSION = "2018-07-17"
ALGORITHM = "TC3-HMAC-SHA256"
# The official SDK signs and sends exactly this; what is signed must be what is sent.
CONTENT_TYPE = "application/json"
# The server rejects an X-TC-Timestamp more than this far from its clock (§6.3).
CLOCK_TOLERANCE_SECONDS = 300
MAX_LIST_LIMIT = 100
LISTABLE_STATUSES = frozenset({"WAITING", "PROCESSING", "FINISH"})

_TOP_LEVEL_STATES = {
    "WAITING": State.QUEUED,
    "PROCESSING": State.RUNNING,
    "ABORTED": State.CANCELED,
}


# --- TC3-HMAC-SHA256 -----------------------------------------------------------------


@dataclass(frozen=True)
class Tc3Signature:
    """Every intermediate of one TC3 signature, so tests can compare each published value."""

    signed_headers: str
    canonical_request: str
    string_to_sign: str
    signing_key: bytes
    signature: str
    authorization: str

    @property
    def hashed_canonical_request(self) -> str:
        return signing.sha256_hex(self.canonical_request)


def tc3_date(timestamp: int) -> str:
    """The credential-scope date: the UTC day of the timestamp (a local date breaks at midnight)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def tc3_signing_key(secret_key: str, date: str, service: str) -> bytes:
    k_date = signing.hmac_sha256("TC3" + secret_key, date)
    k_service = signing.hmac_sha256(k_date, service)
    return signing.hmac_sha256(k_service, "tc3_request")


def tc3_canonical_request(
    method: str,
    query: str,
    host: str,
    headers_to_sign: Mapping[str, str],
    payload: bytes,
) -> tuple[str, str]:
    """Return (canonical request, SignedHeaders).

    Header names and values are lower-cased and trimmed as the TC3 spec says (that is
    why the published example signs `x-tc-action:describeinstances`); `host` always
    takes part. `query` is the query string exactly as sent ("" for POST).
    """
    headers = {
        name.strip().lower(): value.strip().lower() for name, value in headers_to_sign.items()
    }
    headers["host"] = host.strip().lower()
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical = "\n".join(
        (
            method.upper(),
            "/",
            query,
            canonical_headers,
            signed_headers,
            signing.sha256_hex(payload),
        )
    )
    return canonical, signed_headers


def tc3_sign(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    method: str,
    query: str,
    headers_to_sign: Mapping[str, str],
    payload: bytes,
    timestamp: int,
) -> Tc3Signature:
    """Compute a TC3-HMAC-SHA256 signature with all its intermediates (PROVIDERS.md §2.5)."""
    canonical, signed_headers = tc3_canonical_request(method, query, host, headers_to_sign, payload)
    date = tc3_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{signing.sha256_hex(canonical)}"
    key = tc3_signing_key(secret_key, date, service)
    signature = signing.hmac_sha256(key, string_to_sign).hex()
    authorization = (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Tc3Signature(signed_headers, canonical, string_to_sign, key, signature, authorization)


def tc3_authorization(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    method: str,
    query: str,
    headers_to_sign: Mapping[str, str],
    payload: bytes,
    timestamp: int,
) -> str:
    """The `Authorization` header value for one request (see `tc3_sign`)."""
    return tc3_sign(
        secret_id, secret_key, service, host, method, query, headers_to_sign, payload, timestamp
    ).authorization


@dataclass(frozen=True)
class Tc3Authorization:
    """The parts of a received TC3 `Authorization` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/,\s]+)/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/tc3_request,"
    r"\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$"
)


def parse_tc3_authorization(value: str) -> Tc3Authorization | None:
    """Split a TC3 Authorization header; None when it is not one."""
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        return None
    secret_id, date, service, signed, signature = match.groups()
    return Tc3Authorization(secret_id, date, service, tuple(signed.split(";")), signature)


# --- errors ----------------------------------------------------------------------------

# Codes that retrying the same request cannot fix: credentials, account setup, our own
# request shape. Everything else (InternalError, FailedOperation, ResourceUnavailable,
# codes Tencent adds later) is treated as transient.
_PERMANENT_PREFIXES = (
    "AuthFailure",
    "UnauthorizedOperation",
    "InvalidParameter",
    "InvalidParameterValue",
    "MissingParameter",
    "UnknownParameter",
    "UnsupportedOperation",
    "InvalidAction",
    "NoSuchVersion",
    "FailedOperation.InvalidVodUser",
    "ResourceNotFound",
)


def _matches(code: str, prefix: str) -> bool:
    return code == prefix or code.startswith(prefix + ".")


def is_not_found_code(code: str) -> bool:
    """The codes VOD answers for a task id it does not know (or no longer keeps)."""
    return code == "InvalidParameterValue.TaskId" or _matches(code, "ResourceNotFound")


def error_from_response(
    error: Mapping[str, Any],
    *,
    request_id: str = "",
    http_status: int | None = None,
    retry_after: float | None = None,
    secrets: Sequence[str] = (),
) -> ProviderError:
    """Turn a `Response.Error` object into a ProviderError.

    Unknown-task codes become code NOT_FOUND (permanent), throttling gets `retry_after`,
    AuthFailure.* and other request-shape codes are permanent. The message carries the
    provider's code and text with any secret value redacted.
    """
    code = error.get("Code")
    code = code if isinstance(code, str) and code else "UnknownError"
    text = error.get("Message")
    text = text if isinstance(text, str) else ""
    message = f"{code}: {text}" if text else code
    if request_id:
        message += f" (RequestId {request_id})"
    message = http.redact(message, secrets)
    if is_not_found_code(code):
        return ProviderError(message, NOT_FOUND, permanent=True, http_status=http_status)
    if _matches(code, "RequestLimitExceeded"):
        return ProviderError(
            message,
            code,
            retry_after=retry_after if retry_after is not None else DEFAULT_RETRY_AFTER,
            http_status=http_status,
        )
    permanent = any(_matches(code, prefix) for prefix in _PERMANENT_PREFIXES)
    return ProviderError(message, code, permanent=permanent, http_status=http_status)


def _malformed(why: str) -> ProviderError:
    return wire.malformed("Tencent VOD", why)


def response_object(
    payload: Any,
    *,
    http_status: int | None = None,
    retry_after: float | None = None,
    secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """The `Response` object of a decoded API 3.0 answer.

    Raises ProviderError: the classified `Response.Error` when present, MalformedResponse
    (transient) when the payload is not `{"Response": {...}}`.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("Response"), dict):
        raise _malformed("no Response object")
    response: dict[str, Any] = payload["Response"]
    error = response.get("Error")
    if error is not None:
        if not isinstance(error, dict):
            raise _malformed("Response.Error is not an object")
        request_id = response.get("RequestId")
        raise error_from_response(
            error,
            request_id=request_id if isinstance(request_id, str) else "",
            http_status=http_status,
            retry_after=retry_after,
            secrets=secrets,
        )
    return response


# --- DescribeTaskDetail -> JobStatus ---------------------------------------------------


def _walk(node: Any, in_output: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every object below `node` in document order, with whether it sits under an Output.

    Iterative, so a deeply nested payload cannot exhaust the recursion limit.
    """
    stack: list[tuple[Any, bool]] = [(node, in_output)]
    while stack:
        current, inside = stack.pop()
        if isinstance(current, dict):
            yield current, inside
            children = [
                (value, inside or key in ("Output", "PlayInfoSet"))
                for key, value in current.items()
                if isinstance(value, dict | list)
            ]
            stack.extend(reversed(children))
        elif isinstance(current, list):
            stack.extend(
                (item, inside) for item in reversed(current) if isinstance(item, dict | list)
            )


def find_subtask(response: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The type-specific sub-task object: (its key, the object) or ("", None).

    `TaskType` names it (`Procedure` -> `ProcedureTask`, `AigcVideoTask` -> itself); for a
    TaskType Clapboard has never seen, the first non-null object whose key ends in "Task".
    """
    task_type = response.get("TaskType")
    if isinstance(task_type, str) and task_type:
        for key in (f"{task_type}Task", task_type):
            if key.endswith("Task") and isinstance(response.get(key), dict):
                return key, response[key]
    for key, value in response.items():
        if isinstance(key, str) and key.endswith("Task") and isinstance(value, dict):
            return key, value
    return "", None


def subtask_failure(node: Mapping[str, Any]) -> tuple[str, str] | None:
    """(failure code, message) when this one object reports a failure, else None.

    `ErrCodeExt` (string, empty = OK) wins over the deprecated numeric `ErrCode`
    (0 = OK); an inner `Status=FAIL` without codes is reported as code "FAIL".
    """
    message = node.get("Message")
    message = message if isinstance(message, str) else ""
    ext = node.get("ErrCodeExt")
    if isinstance(ext, str) and ext.strip():
        return ext.strip(), message
    code = node.get("ErrCode")
    number = as_int(code)
    if number is not None and number != 0:
        return str(number), message
    if number is None and isinstance(code, str) and code.strip():
        return code.strip(), message
    if node.get("Status") == "FAIL":
        return "FAIL", message
    return None


def _first_failure(subtask: Any) -> tuple[str, str] | None:
    for node, _ in _walk(subtask):
        failure = subtask_failure(node)
        if failure is not None:
            return failure
    return None


def _progress(subtask: Any) -> int | None:
    """The sub-task's own Progress; else the mean of its nested result sets' Progress."""
    if not isinstance(subtask, dict):
        return None
    own = clamp_progress(subtask.get("Progress"))
    if own is not None:
        return own
    nested = [
        value
        for node, _ in _walk(subtask)
        if node is not subtask and (value := clamp_progress(node.get("Progress"))) is not None
    ]
    return sum(nested) // len(nested) if nested else None


def _outputs(subtask: Any) -> dict[str, Any]:
    """Media URL, cover, duration and name from the sub-task's results (first found wins)."""
    found: dict[str, Any] = {}
    if not isinstance(subtask, dict):
        return found
    for node, in_output in _walk(subtask):
        if in_output:
            for key in ("FileUrl", "Url"):
                value = node.get(key)
                if "media_url" not in found and isinstance(value, str) and value.strip():
                    found["media_url"] = value.strip()
            duration = wire.seconds_to_ms(node.get("Duration"))
            if "duration_ms" not in found and duration is not None:
                found["duration_ms"] = duration
            name = node.get("MediaName")
            if "name" not in found and isinstance(name, str) and name.strip():
                found["name"] = name.strip()
        cover = node.get("CoverUrl")
        if "cover_url" not in found and isinstance(cover, str) and cover.strip():
            found["cover_url"] = cover.strip()
    file_name = subtask.get("FileName")
    if isinstance(file_name, str) and file_name.strip():
        found["name"] = file_name.strip()
    meta = subtask.get("MetaData")
    if "duration_ms" not in found and isinstance(meta, dict):
        duration = wire.seconds_to_ms(meta.get("Duration"))
        if duration is not None:
            found["duration_ms"] = duration
    return found


def parse_status(payload: Any, *, external_id: str) -> JobStatus:
    """Normalise one decoded DescribeTaskDetail answer (`{"Response": {...}}`).

    WAITING -> queued, PROCESSING -> running, ABORTED -> canceled; FINISH -> succeeded
    only when no reachable sub-task reports ErrCode != 0, a non-empty ErrCodeExt or an
    inner Status=FAIL, otherwise failed with that sub-task's code and Message. Any other
    top-level status -> unknown (raw value kept). Raises ProviderError for
    `Response.Error` and MalformedResponse for a payload of the wrong shape.
    """
    response = response_object(payload)
    raw_status = response.get("Status")
    if not isinstance(raw_status, str) or not raw_status:
        raise _malformed("Response.Status is missing")
    _, subtask = find_subtask(response)
    failure = _first_failure(subtask) if subtask is not None else None

    if raw_status == "FINISH":
        state = State.FAILED if failure else State.SUCCEEDED
    else:
        state = _TOP_LEVEL_STATES.get(raw_status, State.UNKNOWN)
    if state is State.UNKNOWN:
        logger.warning("Tencent VOD task %s has unknown status %r", external_id, raw_status)
    # A failing sub-task explains a failed or aborted task; a running one may still retry.
    code, message = failure if failure and state in (State.FAILED, State.CANCELED) else ("", "")
    outputs = _outputs(subtask)
    task_type = response.get("TaskType")
    raw = wire.scrub({key: value for key, value in response.items() if value is not None})
    return JobStatus(
        external_id=external_id,
        state=state,
        provider_state=raw_status,
        progress=_progress(subtask),
        failure_code=code,
        failure_message=message,
        media_url=outputs.get("media_url", ""),
        cover_url=outputs.get("cover_url", ""),
        duration_ms=outputs.get("duration_ms"),
        created_at=wire.parse_time(response.get("CreateTime")),
        started_at=wire.parse_time(response.get("BeginProcessTime")),
        finished_at=wire.parse_time(response.get("FinishTime")),
        kind=task_type if isinstance(task_type, str) else "",
        name=outputs.get("name", ""),
        raw=raw,
    )


# --- DescribeTasks -----------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSummary:
    """One row of DescribeTasks: enough to see which tasks changed, not why they failed."""

    task_id: str
    status: str  # raw: WAITING, PROCESSING, FINISH or ABORTED
    task_type: str
    create_time: datetime | None
    finish_time: datetime | None

    @property
    def is_finished(self) -> bool:
        """FINISH or ABORTED: DescribeTaskDetail now has the final answer."""
        return self.status in ("FINISH", "ABORTED")


def parse_task_list(payload: Any) -> tuple[list[TaskSummary], str]:
    """Normalise a decoded DescribeTasks answer into (summaries, next ScrollToken).

    An empty token means there are no more pages. Rows without a TaskId are skipped;
    raises ProviderError like `response_object` for errors and wrong shapes.
    """
    response = response_object(payload)
    rows = response.get("TaskSet")
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise _malformed("TaskSet is not a list")
    summaries = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        task_id, status, task_type = row.get("TaskId"), row.get("Status"), row.get("TaskType")
        if not isinstance(task_id, str) or not task_id:
            continue
        summaries.append(
            TaskSummary(
                task_id=task_id,
                status=status if isinstance(status, str) else "",
                task_type=task_type if isinstance(task_type, str) else "",
                create_time=wire.parse_time(row.get("CreateTime")),
                finish_time=wire.parse_time(row.get("FinishTime")),
            )
        )
    token = response.get("ScrollToken")
    return summaries, token if isinstance(token, str) else ""


_SUMMARY_STATES = {"WAITING": State.QUEUED, "PROCESSING": State.RUNNING}


def _summary_status(task: TaskSummary) -> JobStatus:
    return JobStatus(
        external_id=task.task_id,
        state=_SUMMARY_STATES.get(task.status, State.UNKNOWN),
        provider_state="",
        created_at=task.create_time,
        finished_at=task.finish_time,
        kind=task.task_type,
        raw={
            "TaskSummary": {
                "TaskId": task.task_id,
                "Status": task.status,
                "TaskType": task.task_type,
                "CreateTime": iso_utc(task.create_time) if task.create_time else "",
                "FinishTime": iso_utc(task.finish_time) if task.finish_time else "",
            }
        },
    )


# --- job failure codes -------------------------------------------------------------------

# What a failed task's `failure_code` means. Keys are ErrCodeExt strings, the deprecated
# numeric ErrCode (only sub-tasks without ErrCodeExt, e.g. ComposeMediaTask, send it alone)
# and "FAIL" (an inner Status=FAIL without codes, see `subtask_failure`).
# Sources: VOD "Error Codes" page, video-processing section (InvalidInput*, SourceFileError*,
# InternalError); the EditMediaTask ErrCode docs (40000/60000/70000); the AigcVideoTask
# ErrCodeExt list in PROVIDERS.md §2.2 (names only, meanings not documented there).
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "InvalidInput": Explanation(
        FailureCategory.INPUT,
        "Invalid task parameters",
        retry_helps=False,
        action="Check the task's parameters (the message names the problem), fix them "
        "and submit again.",
    ),
    "InvalidInput.DefinitionNotExist": Explanation(
        FailureCategory.INPUT,
        "Template ID does not exist",
        retry_helps=False,
        action="Check the template (Definition) ID used by the task or its procedure; "
        "create the template or pick an existing one, then submit again.",
    ),
    "SourceFileError": Explanation(
        FailureCategory.INPUT,
        "Source file is corrupt, unsupported or unreachable",
        retry_helps=False,
        action="Check that the source file plays and can be downloaded (corrupt data, "
        "unsupported format or no access); replace it and submit again.",
    ),
    # AigcVideoTask ErrCodeExt values: the names are documented, the meanings below are
    # read from the names (our inference).
    "InvalidParameter": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct the request and submit again.",
    ),
    "InvalidParameterValue": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter value",
        retry_helps=False,
        action="Read the message for the value at fault (model, size, duration...), "
        "correct it and submit again.",
    ),
    "InvalidParameter.MediaFormat": Explanation(
        FailureCategory.INPUT,
        "Input media format not supported",
        retry_helps=False,
        action="Convert the input image or video to a supported format and submit again.",
    ),
    "InvalidParameter.VoilationContent": Explanation(  # sic: Tencent's spelling
        FailureCategory.CONTENT_POLICY,
        "Prompt or input violates content rules",
        retry_helps=False,
        action="Change the prompt or input media so it complies with Tencent's content "
        "rules; resubmitting it unchanged will fail again.",
    ),
    "ContentModerationFailed": Explanation(
        FailureCategory.CONTENT_POLICY,
        "Content did not pass moderation",
        retry_helps=False,
        action="Review the prompt, input and generated content for material Tencent's "
        "moderation rejects; change it before submitting again.",
    ),
    "RequestLimitExceeded": Explanation(
        FailureCategory.QUOTA,
        "Rate or concurrency limit reached",
        retry_helps=True,
        action="Submit again in a few minutes; if it keeps happening, spread submissions "
        "out or ask Tencent to raise the account's limit.",
    ),
    # Inference: "not enough resources" may be Tencent capacity or the account's quota.
    "ResourceInsufficient": Explanation(
        FailureCategory.QUOTA,
        "Not enough resources (likely quota or capacity)",
        retry_helps=True,
        action="Submit again later; if it persists, check the account's AIGC quota and "
        "resource packages in the VOD console.",
    ),
    "InternalError": Explanation(
        FailureCategory.INTERNAL,
        "Tencent internal error",
        retry_helps=True,
        action="Submit the task again; if it keeps failing, open a Tencent ticket with "
        "the task ID.",
    ),
    # Inference: FailedOperation carries no documented meaning; treated as internal.
    "FailedOperation": Explanation(
        FailureCategory.INTERNAL,
        "Operation failed (no reason given)",
        retry_helps=True,
        action="Submit again once; if it fails again, read the message and ask Tencent "
        "support with the task ID.",
    ),
    # The deprecated numeric ErrCode (EditMediaTask docs); `explain_failure` lets the
    # message refine them first.
    "40000": Explanation(
        FailureCategory.INPUT,
        "Invalid input parameters (legacy code)",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct the task and submit again.",
    ),
    "60000": Explanation(
        FailureCategory.INPUT,
        "Source file error, e.g. corrupt (legacy code)",
        retry_helps=False,
        action="Check that the source file plays and is not damaged; replace it and submit again.",
    ),
    "70000": Explanation(
        FailureCategory.INTERNAL,
        "Internal error (legacy code)",
        retry_helps=True,
        action="Submit the task again; if it keeps failing, open a Tencent ticket with "
        "the task ID.",
    ),
    # Clapboard's own code for a sub-task with Status=FAIL and no error code.
    "FAIL": Explanation(
        FailureCategory.UNKNOWN,
        "A sub-task failed without an error code",
        retry_helps=False,
        action="Open the job detail to see which sub-task failed and its message; ask "
        "Tencent support with the task ID if it is unclear.",
    ),
}

# Our inference, not Tencent's: words in the Message that say more than a coarse numeric
# ErrCode (or "FAIL") does, mapped to the ErrCodeExt entry that fits. First match wins.
_MESSAGE_HINTS: tuple[tuple[str, str], ...] = (
    ("moderation", "ContentModerationFailed"),
    ("violat", "InvalidParameter.VoilationContent"),
    ("sensitive", "ContentModerationFailed"),
    ("frequency", "RequestLimitExceeded"),
)


def _payload(response: http.Response) -> dict[str, Any] | None:
    """The decoded body when it is `{"Response": {...}}`; None for anything else."""
    try:
        payload = wire.decode_json(response.body)
    except ValueError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("Response"), dict):
        return payload
    return None


# --- the adapter ---------------------------------------------------------------------------


class TencentVod(Provider):
    code: ClassVar[str] = "tencent_vod"
    label: ClassVar[str] = "Tencent VOD"
    credential_fields: ClassVar[tuple[SchemaField, ...]] = (
        SchemaField(
            "secret_id", "SecretId", secret=False, aliases=("SecretId", "TENCENTCLOUD_SECRET_ID")
        ),
        SchemaField(
            "secret_key", "SecretKey", secret=True, aliases=("SecretKey", "TENCENTCLOUD_SECRET_KEY")
        ),
    )
    credentials_help: ClassVar[str] = (
        "SecretId and SecretKey are on the CAM console's API Keys page "
        "(console.cloud.tencent.com/cam/capi; international: console.tencentcloud.com/cam/capi); "
        "the SecretKey is shown only when the key is created."
    )
    option_fields: ClassVar[tuple[SchemaField, ...]] = (
        SchemaField(
            "sub_app_id",
            "SubAppId",
            secret=False,
            required=False,
            help_text="VOD application ID; required for accounts opened on or after 2023-12-25.",
        ),
    )
    default_rate_limit: ClassVar[float] = 100.0
    batch_size: ClassVar[int] = 1  # DescribeTaskDetail answers one TaskId per call
    retention: ClassVar[timedelta | None] = timedelta(days=3)
    # PROVIDERS.md §2 documents how long task records stay queryable (3 days), not how long
    # an output's URL works: no media expiry is claimed.
    media_retention: ClassVar[timedelta | None] = None
    media_note: ClassVar[str] = "documents no expiry for its media links"
    lists_states: ClassVar[bool] = True  # DescribeTasks shows which tasks changed
    can_discover: ClassVar[bool] = True  # DescribeTasks lists them, 72 hours back
    can_submit: ClassVar[bool] = False
    failure_catalogue: ClassVar[Mapping[str, Explanation]] = FAILURE_CATALOGUE

    @classmethod
    def explain_failure(cls, code: str, message: str = "") -> Explanation:
        """An ErrCodeExt is looked up exactly, then by its nearest dotted parent
        (SourceFileError.NoVideoMedia -> SourceFileError), ignoring the message. A bare
        numeric ErrCode (40000/60000/70000) or "FAIL" only gives the broad class, so the
        message's hints are tried first."""
        catalogue = cls.failure_catalogue
        code = code.strip()
        if not code:
            return UNKNOWN_FAILURE
        if code == "FAIL" or code.lstrip("-").isdigit():
            lowered = message.lower()
            for word, ext_code in _MESSAGE_HINTS:
                if word in lowered and ext_code in catalogue:
                    return catalogue[ext_code]
            return catalogue.get(code, UNKNOWN_FAILURE)
        return wire.lookup_dotted(catalogue, code)

    def default_base_url(self) -> str:
        if self.region == "intl":
            return "https://vod.intl.tencentcloudapi.com"
        return "https://vod.tencentcloudapi.com"

    # --- transport ---------------------------------------------------------------

    def _sub_app_id(self) -> int | None:
        value = str(self.options.get("sub_app_id") or "").strip()
        if not value:
            return None
        number = as_int(value)
        if number is None or number <= 0:
            raise ProviderError(
                "the SubAppId option must be a positive integer",
                "InvalidParameterValue.SubAppId",
                permanent=True,
            )
        return number

    def signed_request(
        self, action: str, params: Mapping[str, Any]
    ) -> tuple[str, dict[str, str], bytes]:
        """Build (url, headers, body) for one API call, signed over the bytes sent."""
        body_params = dict(params)
        sub_app_id = self._sub_app_id()
        if sub_app_id is not None:
            body_params["SubAppId"] = sub_app_id
        body = json.dumps(body_params, separators=(",", ":")).encode()
        timestamp = int(self.clock())
        host = self.host
        authorization = tc3_authorization(
            self.credentials.get("secret_id", ""),
            self.credentials.get("secret_key", ""),
            SERVICE,
            host,
            "POST",
            "",
            {"Content-Type": CONTENT_TYPE},
            body,
            timestamp,
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": CONTENT_TYPE,
            # Sent explicitly so the Host on the wire is byte-identical to the one signed.
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Language": "en-US",
        }
        return f"{self.base_url()}/", headers, body

    def call(self, action: str, params: Mapping[str, Any]) -> Any:
        """Send one signed call and return the decoded payload whose Response has no Error.

        Raises ProviderError: the classified `Response.Error`, MalformedResponse for a
        body that is not API 3.0 JSON, `HTTP<status>` (transient) for a gateway error
        page, and whatever `Provider.send` raises for transport failures.
        """
        url, headers, body = self.signed_request(action, params)
        return self.exchange("POST", url, headers=headers, body=body, parse=_payload)

    def raise_for_response(self, response: http.Response) -> None:
        """`Response.Error` classified (whatever the HTTP status), else a non-200 status
        (a gateway's page) by `status_error`, else a body that is not API 3.0 JSON."""
        payload = _payload(response)
        if payload is not None:
            response_object(
                payload,
                http_status=response.status,
                retry_after=wire.retry_after(response.headers),
                secrets=self.secret_values(),
            )
        if response.status != 200:
            raise status_error(response, f"Tencent VOD answered HTTP {response.status}")
        if payload is None:
            raise ProviderError(
                "Tencent VOD answered with a body that is not an API 3.0 response",
                MALFORMED,
                http_status=response.status,
            )

    # --- the contract --------------------------------------------------------------

    def fetch_one(self, external_id: str) -> JobStatus:
        """DescribeTaskDetail; an unknown or expired TaskId is NOT_FOUND (see Provider.fetch)."""
        payload = self.call("DescribeTaskDetail", {"TaskId": external_id})
        return parse_status(payload, external_id=external_id)

    def check_credentials(self) -> None:
        """One DescribeTasks with Limit 1: proves the keys, the signature and the SubAppId."""
        self.describe_tasks(limit=1)

    def list_states(self, *, since: datetime, page_token: str = "") -> tuple[dict[str, str], str]:
        # DescribeTasks has the top-level Status only, which is what a stored job's
        # provider_state holds: a difference means DescribeTaskDetail is worth a request.
        tasks, token = self.describe_tasks(created_after=since, scroll_token=page_token)
        return {task.task_id: task.status for task in tasks}, token

    def discover(
        self, *, cursor: Mapping[str, Any], limit: int
    ) -> tuple[list[JobStatus], dict[str, Any]]:
        """One page of DescribeTasks, newest first, for tasks created since the cursor's
        time (never more than 72 hours back); paged with ScrollToken.

        A summary has no sub-tasks, so FINISH (succeeded or failed?) and ABORTED (why?)
        come back UNKNOWN, and every summary with an empty provider_state: the refresh
        engine asks DescribeTaskDetail only when a listing differs from the stored
        provider_state, so this makes it fetch each imported task's detail once.
        """
        listing = ListingPass.resume(
            cursor,
            now=datetime.fromtimestamp(self.clock(), UTC),
            first_window=self.retention or timedelta(days=3),
            retention=self.retention,
        )
        try:
            tasks, token = self.describe_tasks(
                created_after=listing.since, scroll_token=str(listing.page or ""), limit=limit
            )
        except ProviderError as exc:
            if listing.page and exc.code.startswith("InvalidParameterValue.ScrollToken"):
                return [], listing.restart()  # an expired token: list this pass again
            raise
        jobs = [_summary_status(task) for task in tasks]
        return jobs, listing.after(jobs, token)

    def describe_tasks(
        self,
        *,
        status: str | None = None,
        created_after: datetime | None = None,
        finished_after: datetime | None = None,
        scroll_token: str = "",
        limit: int = MAX_LIST_LIMIT,
    ) -> tuple[list[TaskSummary], str]:
        """One page of the account's tasks from the last 72 hours.

        `status` filters on the raw value (WAITING, PROCESSING or FINISH; ABORTED rows
        come back unfiltered); `limit` is clamped to 1..100. Returns (summaries, next
        ScrollToken), "" when there are no more pages. Raises ProviderError.
        """
        if status is not None and status not in LISTABLE_STATUSES:
            raise ValueError(f"status must be one of {sorted(LISTABLE_STATUSES)}")
        params: dict[str, Any] = {"Limit": max(1, min(MAX_LIST_LIMIT, int(limit)))}
        if status:
            params["Status"] = status
        if created_after is not None:
            params["CreateTime"] = {"After": iso_utc(created_after)}
        if finished_after is not None:
            params["FinishTime"] = {"After": iso_utc(finished_after)}
        if scroll_token:
            params["ScrollToken"] = scroll_token
        return parse_task_list(self.call("DescribeTasks", params))
