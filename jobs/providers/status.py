"""The shape of one provider task as Clapboard understands it: every adapter returns a
`JobStatus`; the engine stores it (jobs/services/status.py), the pages and API show it.
A cancel request answers one `CancelOutcome` per job."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class State(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELED})


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Sentence:
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class JobStatus:
    """One provider task as Clapboard understands it, at the moment it was fetched.

    Times are timezone-aware UTC; durations and word timings are milliseconds.
    `raw` is the provider payload with secrets removed, kept for the detail page.
    """

    external_id: str
    state: State
    provider_state: str
    progress: int | None = None
    queue_position: int | None = None
    failure_code: str = ""
    failure_message: str = ""
    media_url: str = ""
    subtitles_url: str = ""
    cover_url: str = ""
    duration_ms: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    kind: str = ""
    name: str = ""
    words: tuple[Sentence, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


# What a CancelOutcome's message may hold: enough for the provider's reason, not a page.
MAX_CANCEL_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class CancelOutcome:
    """What the provider said to a request to cancel one job.

    `accepted` means the provider took the cancel; the job's canceled state comes with the
    next fetch. Refused, `code` is the provider's error code (NOT_FOUND where the adapter
    found the job unknown without asking, e.g. MetaStudio's list does not show it) and
    `message` its reason, secrets redacted, at most MAX_CANCEL_MESSAGE_CHARS.
    """

    accepted: bool
    code: str = ""  # the provider's error code when refused ("" when accepted)
    message: str = ""  # the provider's reason, secrets redacted, <= 500 chars


@dataclass(frozen=True)
class IOField:
    """One of a job's inputs or outputs as the job page lists it: a label, the provider's
    value, and a link when the value is one the provider gives as an http(s) URL."""

    section: str  # "input" | "output"
    label: str
    value: str
    url: str = ""
