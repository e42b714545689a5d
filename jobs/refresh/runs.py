"""What a refresh loop holds for each leased account, and in which phase it is."""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from jobs.models import Account
from jobs.refresh.poll import Leased


class Due(NamedTuple):
    """A due job as the dispatcher needs it: enough to decide whether to ask at all."""

    pk: int
    external_id: str
    state: str
    provider_state: str
    queue_position: int | None
    last_polled_at: datetime | None


class Queue(enum.Enum):
    """Where an account's queue of due jobs stands."""

    UNKNOWN = "unknown"  # not looked yet
    EMPTY = "empty"  # looked and found nothing due: look again in a second
    TO_SORT = "to sort"  # fresh from the database; a state listing sorts it first
    READY = "ready"  # every job in it is worth a request; once handed out, look again soon


class Phase(enum.Enum):
    """Where one of an account's side tasks (state listing, discovery) stands."""

    OFF = "off"  # the provider cannot, or the account does not want it
    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"  # the last state listing failed: ask for details this time


@dataclass
class AccountRun:
    """One leased account inside a loop: its adapter, budget and local queue.

    The dispatcher thread alone uses the fields of the first group. Worker threads
    share the others with it and write them only under the loop's lock.
    """

    leased: Leased
    max_in_flight: int
    # The dispatcher's own.
    due: deque[Due] = field(default_factory=deque)
    queue: Queue = Queue.UNKNOWN
    last_refill: float = 0.0
    discover_checked: float = 0.0
    # Shared with the workers, under the lock.
    listing: Phase = Phase.OFF
    discovery: Phase = Phase.OFF
    # VOD's reliable events (jobs/refresh/events.py); after a failure, not before this.
    events: Phase = Phase.OFF
    events_after: float = 0.0
    # When a round last asked VOD for its backlog: the rounds' own (one at a time).
    backlog_checked: float = 0.0
    # Requests in flight start at one and grow by one with each fast answer, up to
    # max_in_flight (so a fast provider gets there within a few round trips).
    in_flight_cap: int = 1
    in_flight_jobs: set[int] = field(default_factory=set)
    requests_in_flight: int = 0
    not_before: float = 0.0
    ok_recorded_at: float = 0.0
    # Listing providers: the last complete {external id: raw state} and when it was taken.
    states: dict[str, str] | None = None
    states_at: float = 0.0
    # Requests and failures not yet written to AccountUsage.
    unflushed_requests: int = 0
    unflushed_errors: int = 0
    flushed_at: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, account: Account, *, once: bool) -> AccountRun:
        """A run of a newly leased account (`once`: a one-pass loop, which never discovers)."""
        leased = Leased.of(account)
        adapter = leased.adapter
        return cls(
            leased=leased,
            # Enough requests in flight to use the budget at ~0.5 s latency; a batch
            # answer is already 50–100 jobs to store, so two at a time do.
            max_in_flight=max(
                2, min(16, math.ceil(account.effective_rate_limit * 0.5 / adapter.batch_size))
            ),
            listing=Phase.IDLE if adapter.lists_states else Phase.OFF,
            discovery=(
                Phase.IDLE if account.discover and adapter.can_discover and not once else Phase.OFF
            ),
            events=Phase.IDLE
            if getattr(adapter, "pulls_events", False) and not once
            else Phase.OFF,
        )

    @property
    def account_id(self) -> int:
        return self.leased.account_id

    @property
    def name(self) -> str:
        return self.leased.name

    def take_unflushed(self) -> tuple[int, int]:
        """The usage counts not yet written, now counted as written (under the lock)."""
        counts = (self.unflushed_requests, self.unflushed_errors)
        self.unflushed_requests = self.unflushed_errors = 0
        self.flushed_at = time.monotonic()
        return counts
