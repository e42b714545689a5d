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

# Account events: each opens with an AccountEpisode of the same name. A rule told of an
# episode also hears of its end ("recovered", the first good answer), without asking.
ACCOUNT_EVENTS = {
    "credentials": "Credentials rejected",
    "unreachable": "Provider unreachable (for the minutes below)",
    "rate_limited": "Rate-limited (for the minutes below)",
    "discovery": "Discovery failing (accounts with discovery on)",
}
RECOVERED = "recovered"
EVENT_LABELS = {**EVENTS, **ACCOUNT_EVENTS, RECOVERED: "Recovered"}
