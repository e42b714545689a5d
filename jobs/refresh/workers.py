"""The refresh loop's pool of worker threads."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable

from django.db import connection

from jobs import http

log = logging.getLogger("jobs.refresh")


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
