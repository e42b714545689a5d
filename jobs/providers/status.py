"""The shape of one provider task as Clapboard understands it: every adapter returns a
`JobStatus`; the engine stores it (jobs/services/status.py), the pages and API show it."""

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


@dataclass(frozen=True)
class CancelOutcome:
    """A provider's answer about one job of a cancel request."""

    accepted: bool
    code: str = ""  # the provider's error code when refused ("" when accepted)
    message: str = ""  # the provider's reason, secrets redacted
