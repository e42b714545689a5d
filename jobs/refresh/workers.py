"""The refresh loop's pool of worker threads."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connection

from jobs import http

log = logging.getLogger("jobs.refresh")

T = TypeVar("T")


class Workers:
    """A fixed set of threads with their own database connections, closed at the end.

    No request a task sends runs past `cut_at` (a time.monotonic()), and a task still
    queued then is dropped: the loop is over, its jobs stay due for the next one.
    """

    def __init__(self, size: int, cut_at: float | None = None) -> None:
        self.cut_at = cut_at
        self.tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.threads = [
            threading.Thread(target=self._work, name=f"refresh-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        try:
            while (task := self.tasks.get()) is not None:
                if self.cut_at is not None and time.monotonic() >= self.cut_at:
                    continue
                try:
                    if self.cut_at is None:
                        task()
                    else:
                        with http.deadline_by(self.cut_at):
                            task()
                except Exception:  # one bad batch must never take the loop down
                    log.exception("refresh task failed")
        finally:
            connection.close()

    def submit(self, task: Callable[[], None]) -> None:
        self.tasks.put(task)

    def drain(self) -> None:
        """Drop the tasks no thread has started yet (their jobs simply stay due)."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.tasks.get_nowait()

    def join(self) -> None:
        for _ in self.threads:
            self.tasks.put(None)
        for thread in self.threads:
            thread.join()


class Storer(Generic[T]):
    """One thread that stores what the workers fetched, many answers per write.

    Workers hand over their answers and go on asking; the storer takes every answer
    waiting and those handed over within `linger` seconds of the first (up to MAX_ITEMS)
    and stores them together, so an account that answers one job
    per request still writes in batches. It stores everything handed over before `join`
    returns: an answer fetched is never dropped.
    """

    MAX_ITEMS = 200
    # How long the first answer waits for others to share its write. A write has a fixed
    # cost (about 2.5 ms of CPU, against 0.2 ms per answer in it: `bench/store.py`), and
    # one-job-per-request accounts hand over an answer every 10-20 ms, so without a wait
    # most writes stored one answer. A job is polled again seconds later at the soonest.
    LINGER_SECONDS = 0.25

    def __init__(self, store: Callable[[list[T]], None], *, linger: float | None = None) -> None:
        self.store = store
        self.linger = self.LINGER_SECONDS if linger is None else linger
        self.items: queue.Queue[T | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="refresh-store", daemon=True)
        self.thread.start()

    def put(self, item: T) -> None:
        self.items.put(item)

    def _work(self) -> None:
        try:
            done = False
            while not done:
                first = self.items.get()
                if first is None:
                    break
                batch = [first]
                until = time.monotonic() + self.linger
                with contextlib.suppress(queue.Empty):
                    while len(batch) < self.MAX_ITEMS:
                        item = self.items.get(timeout=max(0.0, until - time.monotonic()))
                        if item is None:
                            done = True
                            break
                        batch.append(item)
                try:
                    self.store(batch)
                except Exception:  # one bad write must never take the loop down
                    log.exception("refresh store failed")
        finally:
            connection.close()

    def join(self) -> None:
        self.items.put(None)
        self.thread.join()
