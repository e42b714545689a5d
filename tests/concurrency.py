"""Running one piece of work on several threads at once, each with its own database
connection, for the tests that race two workers against each other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_together(target: Callable[[], T], n: int = 2) -> list[T]:
    """Run `target` on `n` threads released together by a barrier; return what each
    returned. An exception on any thread fails the test here rather than vanishing with
    its thread."""
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results
