"""The rate limits' store is shared by every process: the database without Redis."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from django.core.cache import cache
from django.db import close_old_connections

from jobs.models import RateCounter
from jobs.ratelimit import rate_hit
from tests.clusters import child_env

NOW = 1_900_001_000.0  # a fixed instant, 200 s into an hour: 3400 s to its end


def _hits(n: int, *, limit: int, now: float = NOW) -> list[int | None]:
    return [rate_hit("test", "client-1", limit=limit, window=3600, now=now) for _ in range(n)]


@pytest.mark.django_db(transaction=True)
def test_two_processes_share_one_count():
    assert _hits(3, limit=5) == [None, None, None]
    script = (
        "from jobs.ratelimit import rate_hit\n"
        f"print([rate_hit('test', 'client-1', limit=5, window=3600, now={NOW}) for _ in range(3)])"
    )
    other = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # The other process continued this one's count: 4 and 5 pass, the 6th waits.
    assert other.stdout.strip().splitlines()[-1] == "[None, None, 3400]"
    assert _hits(1, limit=5) == [3400]  # and this one sees the other's hits


@pytest.mark.django_db
def test_the_count_lives_in_the_database_not_in_process_memory():
    assert _hits(2, limit=2) == [None, None]
    cache.clear()  # what a second worker process would start with
    assert _hits(1, limit=2) == [3400]
    assert RateCounter.objects.get().count == 3


@pytest.mark.django_db
def test_windows_are_per_key_and_old_windows_are_cleared():
    assert _hits(2, limit=1) == [None, 3400]
    assert rate_hit("test", "client-2", limit=1, window=3600, now=NOW) is None
    assert rate_hit("other-scope", "client-1", limit=1, window=3600, now=NOW) is None
    next_hour = NOW + 3600
    assert _hits(1, limit=1, now=next_hour) == [None]  # a fresh window
    assert list(RateCounter.objects.values_list("count", flat=True)) == [1]  # the rest expired


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_are_all_counted():
    allowed = []

    def hammer() -> None:
        try:
            for _ in range(10):
                allowed.append(rate_hit("test", "burst", limit=50, window=3600, now=NOW) is None)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert RateCounter.objects.get(key__startswith="test:burst:").count == 60
    assert allowed.count(True) == 50
