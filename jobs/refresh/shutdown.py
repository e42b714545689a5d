"""The cluster's stop flag, shared by the forked django-q2 workers.

Set when the cluster is told to stop (SIGTERM/SIGINT to `manage.py qcluster`). Made
before the cluster forks, so its workers share it: a running loop ends within a second
instead of polling out its minute while the supervisor waits.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import time

_flag: multiprocessing.synchronize.Event | None = None


def shutdown_prepare() -> None:
    """Create the shared shutdown flag; call in the cluster's parent before it forks."""
    global _flag
    _flag = multiprocessing.get_context("fork").Event()


def shutdown_request() -> None:
    if _flag is not None:
        _flag.set()


def shutting_down() -> bool:
    return _flag is not None and _flag.is_set()


def shutdown_wait(seconds: float) -> bool:
    """Sleep `seconds`, waking at once when the cluster stops; returns whether it is."""
    if _flag is None:
        time.sleep(max(0.0, seconds))
        return False
    return _flag.wait(max(0.0, seconds))
