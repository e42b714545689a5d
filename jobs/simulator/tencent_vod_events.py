"""The fake Tencent VOD's reliable event queue: PullEvents, ConfirmEvents, DescribeEventsState.

A tenant that opted in (`Simulator.vod_events`) gets every task change as an event with
its own EventHandle. PullEvents hands out up to 16 events that are neither confirmed nor
still out with a caller, holding the request (long poll) while there are none; an event
not confirmed within 30 s of the simulator's clock is handed out again, and any event is
kept 4 days. The API half is tencent_vod.py; what an event says is notices.py.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PULL_LIMIT = 16
CONFIRM_SECONDS = 30.0
KEEP_SECONDS = 4 * 86400
HOLD_SECONDS = 5.0  # the vendor's long-poll hold
# UNVERIFIED: the stored vendor pages list no PullEvents error codes (docs/PROVIDERS.md Appendix E.2).
NO_EVENT = ("ResourceNotFound.NoEvent", "There is no event notification to pull.")


@dataclass
class _Event:
    handle: str
    content: dict[str, Any]
    created: float
    visible_at: float  # the simulator-clock time it may be handed out (again)


class EventQueue:
    """One tenant's events, read on the simulator's clock `now`."""

    def __init__(self, now: Callable[[], float], hold: float = HOLD_SECONDS) -> None:
        self.now = now
        self.hold = hold
        self._events: dict[str, _Event] = {}
        self._ready = threading.Condition()

    def append(self, content: dict[str, Any]) -> str:
        handle = uuid.uuid4().hex
        now = self.now()
        with self._ready:
            self._events[handle] = _Event(handle, content, now, now)
            self._ready.notify_all()
        return handle

    def _available(self, now: float) -> list[_Event]:
        for handle in [h for h, e in self._events.items() if now - e.created > KEEP_SECONDS]:
            del self._events[handle]
        return [e for e in self._events.values() if e.visible_at <= now]

    def pull(self) -> list[dict[str, Any]]:
        """Up to 16 events, each then out for 30 s; waits up to `hold` seconds (real
        time) for one to arrive; [] when none did."""
        deadline = time.monotonic() + self.hold
        with self._ready:
            while True:
                now = self.now()
                events = self._available(now)[:PULL_LIMIT]
                left = deadline - time.monotonic()
                if events or left <= 0:
                    break
                # Re-read in short slices: a test may move the clock rather than append.
                self._ready.wait(min(left, 0.1))
            for event in events:
                event.visible_at = now + CONFIRM_SECONDS
            return [{"EventHandle": e.handle, **e.content} for e in events]

    def confirm(self, handles: list[str]) -> None:
        with self._ready:
            for handle in handles:
                self._events.pop(handle, None)

    def count(self) -> int:
        with self._ready:
            return len(self._available(self.now()))


class VodEvents:
    """Which VOD tenants keep an event queue, and their queues."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.every_tenant = False
        self.hold = HOLD_SECONDS
        # For tests: the chance an event is queued twice, each copy with its own handle.
        self.duplicate = 0.0
        self.queues: dict[str, EventQueue] = {}
        self._lock = threading.Lock()

    def enable(
        self,
        secret_id: str | None,
        enabled: bool = True,
        *,
        hold: float | None = None,
        duplicate: float = 0.0,
    ) -> None:
        with self._lock:
            if hold is not None:
                self.hold = hold
                for queue in self.queues.values():
                    queue.hold = hold
            self.duplicate = duplicate
            if secret_id is None:
                self.every_tenant = enabled
                if not enabled:
                    self.queues.clear()
            elif enabled:
                self.queues.setdefault(secret_id, EventQueue(self.now, self.hold))
            else:
                self.queues.pop(secret_id, None)

    def clear(self) -> None:
        with self._lock:
            self.every_tenant = False
            self.hold = HOLD_SECONDS
            self.duplicate = 0.0
            self.queues.clear()

    @property
    def active(self) -> bool:
        return self.every_tenant or bool(self.queues)

    def queue(self, secret_id: str) -> EventQueue | None:
        with self._lock:
            if self.every_tenant and secret_id not in self.queues:
                self.queues[secret_id] = EventQueue(self.now, self.hold)
            return self.queues.get(secret_id)

    def publish(self, content: dict[str, Any], owner: str | None, tenants: list[str]) -> None:
        """Queue one change for its owner, or for every tenant in `tenants` when the job
        has no owner (any tenant may see it)."""
        for secret_id in [owner] if owner else tenants:
            queue = self.queue(secret_id)
            if queue is not None:
                for _ in range(2 if random.random() < self.duplicate else 1):
                    queue.append(content)
