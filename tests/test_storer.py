"""The refresh loop's storer writes the answers of many requests together, and drops none."""

from __future__ import annotations

import threading

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
