"""Tencent VOD answers (docs/PROVIDERS.md §2.2-§2.4): `Response`, its `Error`, and tasks.

`Status=FINISH` only means "finished": success or failure lives in the type-specific
sub-task object (`ProcedureTask`, `EditMediaTask`, `AigcVideoTask`...) and in the result
sets nested inside it, as `ErrCode` / `ErrCodeExt` / an inner `Status=FAIL`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs import http
from jobs.providers import wire
from jobs.providers.errors import NOT_FOUND, ProviderError
from jobs.providers.status import JobStatus, State
from jobs.providers.wire import DEFAULT_RETRY_AFTER, as_int, clamp_progress, iso_utc

logger = logging.getLogger(__name__)

_TOP_LEVEL_STATES = {
    "WAITING": State.QUEUED,
    "PROCESSING": State.RUNNING,
    "ABORTED": State.CANCELED,
}


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
