"""One writer at a time per process on SQLite.

SQLite has a single writer for the whole database. When the refresh loop's worker
threads all open write transactions at once, every one but the holder waits in SQLite's
busy handler, which sleeps in growing steps (1, 2, 5 … 100 ms) and retries: the writer
is idle between holders while the waiters sleep, and a 10,000-job pass ran at a quarter of
its rate limit. Queuing the threads on a Python lock hands the database from one writer
to the next at once; only the other processes (one per loop) still meet the busy handler.
PostgreSQL locks rows, not the database, so there the lock is not taken.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_lock = threading.RLock()


@contextmanager
def one_writer() -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    with _lock:
        yield
