"""The refresh loop's storer writes the answers of many requests together, and drops none."""

from __future__ import annotations

import threading
import time

import pytest

from jobs.models import Job
from jobs.refresh import refresh_once
from jobs.refresh.workers import Storer


def test_answers_that_wait_are_stored_in_one_batch_and_join_stores_every_one():
    batches: list[list[int]] = []
    first_taken, release = threading.Event(), threading.Event()

    def store(batch: list[int]) -> None:
        batches.append(batch)
        first_taken.set()
        release.wait(5)

    storer: Storer[int] = Storer(store)
    storer.put(0)
    assert first_taken.wait(5)
    for n in range(1, 6):  # arrive while the first write is still going on
        storer.put(n)
    release.set()
    storer.put(6)
    storer.join()

    assert batches[0] == [0]
    assert batches[1][:5] == [1, 2, 3, 4, 5]  # the five waiting answers, one write
    assert sorted(n for batch in batches for n in batch) == list(range(7))


def test_a_failing_write_does_not_stop_the_storer():
    stored: list[int] = []
    failed = threading.Event()

    def store(batch: list[int]) -> None:
        if 0 in batch:
            failed.set()
            raise RuntimeError("disk full")
        stored.extend(batch)

    storer: Storer[int] = Storer(store)
    storer.put(0)
    assert failed.wait(5)
    storer.put(1)
    storer.join()
    assert stored == [1]


def test_an_answer_handed_over_within_the_linger_shares_the_first_ones_write():
    def batches_with(linger: float) -> list[list[int]]:
        batches: list[list[int]] = []
        stored = threading.Event()

        def store(batch: list[int]) -> None:
            batches.append(batch)
            if sum(map(len, batches)) == 2:
                stored.set()

        storer: Storer[int] = Storer(store, linger=linger)
        storer.put(0)
        time.sleep(0.2)
        storer.put(1)
        assert stored.wait(5)
        storer.join()
        return batches

    assert batches_with(2.0) == [[0, 1]]  # one write for both
    assert batches_with(0.0) == [[0], [1]]  # without the wait, a write each


@pytest.mark.django_db(transaction=True)
def test_requests_go_on_while_their_answers_wait_for_the_storer(accounts, simulator, monkeypatch):
    # The answers wait 3 s for company. Counting a request as in flight until its answer
    # is stored held the account to one request at a time meanwhile.
    monkeypatch.setattr(Storer, "LINGER_SECONDS", 3.0)
    account = accounts["tencent_ivh"]
    for n in range(20):
        Job.objects.create(account=account, external_id=f"sim-0-5-10-ok-w{n}")
    loop = threading.Thread(target=refresh_once, kwargs={"account_names": [account.name]})
    loop.start()
    try:
        deadline = time.monotonic() + 2.5
        while simulator.requests.get("tencent_ivh", 0) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert simulator.requests.get("tencent_ivh", 0) >= 20
        assert not Job.objects.filter(last_polled_at__isnull=False).exists()  # still waiting
    finally:
        loop.join(10)
    assert not Job.objects.filter(last_polled_at__isnull=True).exists()
