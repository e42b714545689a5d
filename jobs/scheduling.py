"""When to poll a job next: every rule in one place.

Queued jobs are polled less often the further back they are, running jobs more often as
they near the end (ETA from their own progress history), terminal jobs not at all, and a
request that failed backs off exponentially up to a cap.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.providers.base import State

QUEUED_BASE = 5.0  # seconds
QUEUED_PER_POSITION = 1.5
QUEUED_MAX = 120.0
RUNNING_MIN = 2.0
RUNNING_MAX = 60.0
RUNNING_NO_HISTORY = 10.0
# Providers that report no progress at all (CI, MetaStudio, ICE): nothing to estimate from.
RUNNING_NO_PROGRESS = 30.0
PAUSED = 60.0
UNKNOWN = 30.0
ERROR_BASE = 5.0
ERROR_MAX = 15 * 60.0


@dataclass(frozen=True)
class ProgressPoint:
    at: datetime
    progress: int


def eta(points: Sequence[ProgressPoint], now: datetime) -> timedelta | None:
    """Remaining time from the observed progress rate, or None without enough history.

    Uses the first and last running observations: two points, at least 1 % apart.
    """
    usable = [p for p in points if p.progress is not None]
    if len(usable) < 2:
        return None
    first, last = usable[0], usable[-1]
    elapsed = (last.at - first.at).total_seconds()
    gained = last.progress - first.progress
    if elapsed <= 0 or gained < 1:
        return None
    rate = gained / elapsed  # percent per second
    remaining = (100 - last.progress) / rate - (now - last.at).total_seconds()
    return timedelta(seconds=max(0.0, remaining))


def next_interval(
    state: State,
    *,
    queue_position: int | None = None,
    remaining: timedelta | None = None,
    progress: int | None = None,
) -> float | None:
    """Seconds until the next poll after a successful fetch; None means stop polling."""
    if state.is_terminal:
        return None
    if state is State.QUEUED:
        if queue_position is None:
            return 15.0
        return min(QUEUED_MAX, QUEUED_BASE + QUEUED_PER_POSITION * queue_position)
    if state is State.RUNNING:
        if remaining is None:
            return RUNNING_NO_PROGRESS if progress is None else RUNNING_NO_HISTORY
        # Look again at about a quarter of the remaining time, so the finish is seen
        # soon after it happens without hammering long jobs.
        return min(RUNNING_MAX, max(RUNNING_MIN, remaining.total_seconds() / 4))
    if state is State.PAUSED:
        return PAUSED
    return UNKNOWN


def error_backoff(consecutive_errors: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait after the n-th consecutive failed request (n ≥ 1), with jitter."""
    if retry_after:
        return min(ERROR_MAX, max(retry_after, 1.0))
    delay = min(ERROR_MAX, ERROR_BASE * 2.0 ** max(0, consecutive_errors - 1))
    return delay * random.uniform(0.9, 1.1)


def past_retention(retention: timedelta | None, *, started: datetime | None, now: datetime) -> bool:
    """Whether the provider no longer keeps this task (so polling it cannot succeed)."""
    return retention is not None and started is not None and now - started > retention
