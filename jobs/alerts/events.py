"""What a rule can ask to hear about."""

from __future__ import annotations

from jobs.providers.base import State

EVENTS = {
    "failed": "Failed",
    "succeeded": "Succeeded",
    "stuck": "Stuck (no progress or queue movement)",
}

TERMINAL_EVENTS = ("failed", "succeeded")

# States in which a polled job is expected to move; paused jobs are paused on purpose.
STUCK_STATES = (State.QUEUED, State.RUNNING, State.UNKNOWN)
