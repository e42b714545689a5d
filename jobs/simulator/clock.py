"""The simulator's clock and job model: how a fake job moves through its phases.

A job's phase is a pure function of the simulator's clock (or a test's pin), so every
provider renders the same instant the same way. Any external id of the form
`sim-<created>-<queue s>-<run s>-<ok|fail|cancel>-<tag>` describes its own job, so a
separately started simulator (demo, benchmarks) needs no shared state with Django.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any


class Phase(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


OUTCOMES = {"ok": Phase.SUCCEEDED, "fail": Phase.FAILED, "cancel": Phase.CANCELED}
_SYNTHETIC = re.compile(r"^sim-(\d+)-(\d+)-(\d+)-(ok|fail|cancel)-[A-Za-z0-9]+$")


@dataclass(frozen=True)
class Snapshot:
    """What a job looks like at one instant; provider simulators render this."""

    phase: Phase
    progress: int
    queue_position: int
    created: float
    started: float | None
    finished: float | None


@dataclass
class SimJob:
    provider: str
    external_id: str
    created: float
    queue_seconds: float = 5.0
    run_seconds: float = 20.0
    queue_ahead: int = 3
    outcome: Phase = Phase.SUCCEEDED
    failure_code: str = ""
    failure_message: str = ""
    kind: str = ""
    name: str = ""
    # Tenant key id that owns the job; None means any tenant of the provider may see it.
    owner: str | None = None
    # Tests pin a job to a phase (and progress) instead of letting the clock move it.
    pinned: Phase | None = None
    pinned_progress: int | None = None
    # A raw provider state to report verbatim (e.g. one Clapboard has never seen).
    raw_state: str | None = None
    # When a cancel request took the job out of its queue (World.cancel_waiting).
    canceled_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, now: float) -> Snapshot:
        if self.canceled_at is not None and now >= self.canceled_at:
            # Canceled while waiting: it never started, whatever its pin or timings say.
            return Snapshot(Phase.CANCELED, 0, 0, self.created, None, self.canceled_at)
        started = self.created + self.queue_seconds
        finished = started + self.run_seconds
        if self.pinned is not None:
            phase = self.pinned
            progress = (
                self.pinned_progress
                if self.pinned_progress is not None
                else (100 if phase is Phase.SUCCEEDED else 0)
            )
            queue_position = self.queue_ahead if phase is Phase.QUEUED else 0
            return Snapshot(
                phase,
                progress,
                queue_position,
                self.created,
                None if phase is Phase.QUEUED else started,
                finished if phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELED) else None,
            )
        elapsed = now - self.created
        if elapsed < self.queue_seconds:
            left = 1 - elapsed / self.queue_seconds if self.queue_seconds else 0
            return Snapshot(
                Phase.QUEUED, 0, math.ceil(self.queue_ahead * left), self.created, None, None
            )
        if elapsed < self.queue_seconds + self.run_seconds:
            done = (elapsed - self.queue_seconds) / self.run_seconds
            return Snapshot(Phase.RUNNING, min(99, int(done * 100)), 0, self.created, started, None)
        progress = 100 if self.outcome is Phase.SUCCEEDED else 50
        return Snapshot(self.outcome, progress, 0, self.created, started, finished)

    @property
    def seed(self) -> int:
        """A stable number per job for choosing names, codes and words."""
        return int.from_bytes(hashlib.sha256(self.external_id.encode()).digest()[:8], "big")


def synthesise(provider: str, external_id: str) -> SimJob | None:
    """The job a `sim-…` external id describes; None for any other id."""
    match = _SYNTHETIC.match(external_id)
    if not match:
        return None
    created, queue, run, outcome = match.groups()
    queue_seconds = float(queue)
    return SimJob(
        provider=provider,
        external_id=external_id,
        created=float(created),
        queue_seconds=queue_seconds,
        run_seconds=max(1.0, float(run)),
        queue_ahead=int(queue_seconds // 4),
        outcome=OUTCOMES[outcome],
    )
