"""Tencent IVH answers (docs/PROVIDERS.md §1.3, §1.4): the `{"Header", "Payload"}` envelope.

Request-level failures come as HTTP 200 with `Header.Code != 0`; a job's own state and
failure are in `Payload`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from jobs import http
from jobs.providers import wire
from jobs.providers.base import status_error
from jobs.providers.errors import NOT_FOUND, ProviderError
from jobs.providers.status import JobStatus, Sentence, State, Word
from jobs.providers.wire import DEFAULT_RETRY_AFTER, as_int, clamp_progress

logger = logging.getLogger(__name__)

# What `_decode` returns for a body that is not JSON (None is JSON's null).
_UNDECODABLE = object()

# [UNCERTAIN] IVH does not publish its Header.Code values (docs/PROVIDERS.md Appendix C).
# These are the codes Clapboard's simulator answers with. `_classify_header_error`
# also recognises each situation by its message text, so a live gateway that numbers
# them differently still lands in the right bucket.
CODE_OK = 0
CODE_APPKEY_UNKNOWN = 100001
CODE_TIMESTAMP_EXPIRED = 100002
CODE_SIGNATURE_INVALID = 100003
CODE_INVALID_PARAMETER = 100004
CODE_FREQUENCY_LIMIT = 100005
CODE_TASK_NOT_FOUND = 110001
CODE_INTERNAL_ERROR = 100500

AUTH_CODES = frozenset({CODE_APPKEY_UNKNOWN, CODE_TIMESTAMP_EXPIRED, CODE_SIGNATURE_INVALID})
PERMANENT_CODES = AUTH_CODES | {CODE_INVALID_PARAMETER}
THROTTLE_CODES = frozenset({CODE_FREQUENCY_LIMIT})
NOT_FOUND_CODES = frozenset({CODE_TASK_NOT_FOUND})

_AUTH_WORDS = ("signature", "appkey", "timestamp", "auth", "token")
_THROTTLE_WORDS = ("frequency", "rate limit", "too many", "qps", "throttl")
_NOT_FOUND_WORDS = ("not exist", "not found", "no such task")

STATES = {
    "COMMIT": State.QUEUED,
    "MAKING": State.RUNNING,
    "SUCCESS": State.SUCCEEDED,
    "FAIL": State.FAILED,
}

# TextTimestampResult counts in 100 ns ticks.
TICKS_PER_MS = 10_000


def parse_status(document: Any, *, external_id: str) -> JobStatus:
    """Normalize one decoded getprogress answer (the whole envelope) into a JobStatus.

    Raises ProviderError: for `Header.Code != 0` (auth and bad parameters permanent,
    frequency limits with `retry_after`, an unknown task with code NOT_FOUND), and
    `MalformedResponse` (transient) for anything that is not the envelope we expect.
    An answer without `Status` (the doc's own sample has none) keeps every field it has
    and takes its state from Progress, with the provider state marked as derived.
    """
    if not isinstance(document, Mapping):
        raise _malformed("the answer is not a JSON object")
    header = document.get("Header")
    if not isinstance(header, Mapping):
        raise _malformed("the answer has no Header object")
    raise_for_header(header)
    payload = document.get("Payload")
    if not isinstance(payload, Mapping):
        raise _malformed("the answer has no Payload object")
    provider_state = payload.get("Status")
    if provider_state is None or provider_state == "":
        # The getprogress doc's own response sample has no Status: judge by Progress.
        state, provider_state = _state_from_progress(payload.get("Progress"))
        _note_derived_state(external_id, provider_state)
    elif not isinstance(provider_state, str) or not provider_state.strip():
        raise _malformed("Payload.Status is not a text")
    else:
        state = STATES.get(provider_state.strip().upper(), State.UNKNOWN)
        if state is State.UNKNOWN:
            logger.warning("IVH task %s reports an unknown Status %r", external_id, provider_state)

    failure_code = failure_message = ""
    if state is State.FAILED:
        failure_code = _failure_code(payload.get("FailCode"))
        failure_message = wire.text(payload.get("FailMessage"))

    duration_ms = as_int(payload.get("Duration"))
    return JobStatus(
        external_id=external_id,
        state=state,
        provider_state=provider_state,
        progress=_progress(payload.get("Progress"), state),
        queue_position=_queue_position(payload.get("ArrayCount"), state),
        failure_code=failure_code,
        failure_message=failure_message,
        media_url=wire.text(payload.get("MediaUrl")),
        subtitles_url=wire.text(payload.get("SubtitlesUrl")),
        duration_ms=duration_ms if duration_ms is not None and duration_ms > 0 else None,
        kind="videomaker",
        words=_sentences(payload.get("TextTimestampResult")),
        raw=wire.scrub(document),
    )


def _progress(value: Any, state: State) -> int | None:
    # Progress is documented as a reserved field "not for reference": Status decides,
    # Progress only refines a running bar. -1 (failed) is dropped by clamp_progress, and
    # an unfinished job never shows 100.
    if state is State.SUCCEEDED:
        return 100
    progress = clamp_progress(value)
    if progress is not None and state is not State.FAILED:
        return min(progress, 99)
    return progress


def _queue_position(array_count: Any, state: State) -> int | None:
    """How many tasks are ahead of a queued one (`ArrayCount`); None when not queued."""
    ahead = as_int(array_count) if state is State.QUEUED else None
    return ahead if ahead is not None and ahead >= 0 else None


# Marks a provider state Clapboard worked out itself rather than read from the answer.
DERIVED_SUFFIX = " (derived from Progress)"
PROGRESS_STATES = {100: "SUCCESS", -1: "FAIL"}


def _state_from_progress(value: Any) -> tuple[State, str]:
    """The state an answer without `Status` stands for: Progress 100 succeeded, -1 failed,
    0-99 running. Anything else says nothing, and is a MalformedResponse."""
    progress = as_int(value)
    if progress is None or not -1 <= progress <= 100:
        raise _malformed("Payload has neither Status nor a usable Progress")
    raw_state = PROGRESS_STATES.get(progress, "MAKING")
    return STATES[raw_state], raw_state + DERIVED_SUFFIX


def _note_derived_state(external_id: str, provider_state: str) -> None:
    with _DERIVED_LOCK:  # poller threads share this
        if external_id in _DERIVED_NOTED:
            return
        _DERIVED_NOTED[external_id] = None
        if len(_DERIVED_NOTED) > 4096:  # bounded: forget the oldest
            del _DERIVED_NOTED[next(iter(_DERIVED_NOTED))]
    logger.warning(
        "IVH task %s: answers have no Status; state taken from Progress (now %s)",
        external_id,
        provider_state,
    )


# Jobs whose Status-less answers were already logged: once per job, not on every poll.
_DERIVED_NOTED: dict[str, None] = {}
_DERIVED_LOCK = threading.Lock()


def raise_for_header(
    header: Mapping[str, Any],
    *,
    retry_after: float | None = None,
    http_status: int | None = None,
) -> None:
    """Raise the ProviderError a non-zero `Header.Code` stands for; return if it is 0."""
    raw_code = header.get("Code", CODE_OK)
    if raw_code is None or (isinstance(raw_code, str) and not raw_code.strip()):
        return
    code = as_int(raw_code)
    if code == CODE_OK:
        return
    if code is None and not isinstance(raw_code, str):
        raise _malformed("Header.Code is not a number")
    error = _classify_header_error(
        str(raw_code).strip(), code, _header_message(header), retry_after
    )
    error.http_status = http_status
    raise error


def _header_message(header: Mapping[str, Any]) -> str:
    message = wire.text(header.get("Message")) or "request refused"
    request_id = wire.text(header.get("RequestID"))
    return f"{message} (RequestID {request_id})" if request_id else message


def _classify_header_error(
    code_text: str, code: int | None, message: str, retry_after: float | None
) -> ProviderError:
    lowered = message.lower()
    if code in NOT_FOUND_CODES or (
        code not in AUTH_CODES | THROTTLE_CODES
        and "task" in lowered
        and any(w in lowered for w in _NOT_FOUND_WORDS)
    ):
        return ProviderError(f"IVH {code_text}: {message}", NOT_FOUND, permanent=True)
    if code in THROTTLE_CODES or any(w in lowered for w in _THROTTLE_WORDS):
        return ProviderError(message, code_text, retry_after=retry_after or DEFAULT_RETRY_AFTER)
    if code in PERMANENT_CODES or any(w in lowered for w in _AUTH_WORDS):
        return ProviderError(message, code_text, permanent=True)
    return ProviderError(message, code_text)


def interpret_response(response: http.Response, *, external_id: str) -> JobStatus:
    """Turn one HTTP answer to getprogress into a JobStatus, or raise ProviderError
    (see `raise_for_response`)."""
    raise_for_response(response)
    return parse_status(_decode(response.body), external_id=external_id)


def _decode(body: bytes) -> Any:
    try:
        return wire.decode_json(body)
    except ValueError:
        return _UNDECODABLE


def raise_for_response(response: http.Response) -> None:
    """Raise the ProviderError a getprogress answer stands for at the request level.

    HTTP 429 and a frequency-limit Header.Code are throttling (Retry-After honoured);
    5xx is transient; other non-200 answers are refused requests (401/403 permanent);
    a body that is not JSON is a transient `MalformedResponse`.
    """
    status = response.status
    retry_after = wire.retry_after(response.headers)
    document = _decode(response.body)
    header = document.get("Header") if isinstance(document, Mapping) else None
    header_code = wire.text(header.get("Code")) if isinstance(header, Mapping) else ""
    if header_code == str(CODE_OK):
        header_code = ""
    if status == 429:
        raise status_error(response, "IVH gateway is throttling requests", header_code)
    if status >= 500:
        message = f"IVH gateway answered HTTP {status}"
        if header_code and isinstance(header, Mapping):
            message = f"{message}: {_header_message(header)}"
        raise status_error(response, message, header_code)
    if status != 200 and isinstance(header, Mapping):
        raise_for_header(header, retry_after=retry_after, http_status=status)
    if status != 200:
        raise status_error(response, f"IVH gateway answered HTTP {status}")
    if document is _UNDECODABLE:
        raise _malformed("the answer is not JSON")
    if isinstance(header, Mapping):
        raise_for_header(header, retry_after=retry_after, http_status=status)


# --- helpers ------------------------------------------------------------------------


def _malformed(reason: str) -> ProviderError:
    return wire.malformed("IVH", reason)


def _failure_code(value: Any) -> str:
    number = as_int(value)
    if number is not None:
        return "" if number == 0 else str(number)
    return wire.text(value)


def _sentences(value: Any) -> tuple[Sentence, ...]:
    """Sentences with word timings in ms; entries of the wrong shape are skipped,
    since the timings are an extra and must not cost us the job's status."""
    if not isinstance(value, list):
        return ()
    sentences = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        words = []
        raw_words = item.get("Words")
        for raw_word in raw_words if isinstance(raw_words, list) else ():
            if not isinstance(raw_word, Mapping) or not isinstance(raw_word.get("Word"), str):
                continue
            start = as_int(raw_word.get("StartTimestamp"))
            end = as_int(raw_word.get("EndTimestamp"))
            if start is None or end is None or start < 0 or end < start:
                continue
            words.append(Word(raw_word["Word"], start // TICKS_PER_MS, end // TICKS_PER_MS))
        text = item.get("Sentence")
        if not isinstance(text, str):
            text = " ".join(w.text for w in words)
        if text or words:
            sentences.append(Sentence(text, tuple(words)))
    return tuple(sentences)
