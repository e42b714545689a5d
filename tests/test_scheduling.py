from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs import scheduling
from jobs.providers.base import State
from jobs.scheduling import ProgressPoint

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_terminal_states_stop_polling():
    for state in (State.SUCCEEDED, State.FAILED, State.CANCELED):
        assert scheduling.next_interval(state) is None


def test_queued_jobs_poll_less_often_the_further_back_they_are():
    near = scheduling.next_interval(State.QUEUED, queue_position=1)
    far = scheduling.next_interval(State.QUEUED, queue_position=40)
    very_far = scheduling.next_interval(State.QUEUED, queue_position=10_000)
    assert near < far <= very_far == scheduling.QUEUED_MAX


def test_running_jobs_poll_more_often_near_the_end():
    long_way = scheduling.next_interval(State.RUNNING, remaining=timedelta(minutes=10))
    almost = scheduling.next_interval(State.RUNNING, remaining=timedelta(seconds=12))
    done = scheduling.next_interval(State.RUNNING, remaining=timedelta(0))
    assert long_way == scheduling.RUNNING_MAX
    assert almost == 3.0
    assert done == scheduling.RUNNING_MIN
    assert scheduling.next_interval(State.RUNNING, progress=40) == scheduling.RUNNING_NO_HISTORY
    assert scheduling.next_interval(State.RUNNING) == scheduling.RUNNING_NO_PROGRESS


def test_eta_from_progress_history():
    points = [ProgressPoint(T0, 10), ProgressPoint(T0 + timedelta(seconds=60), 40)]
    # 30 % a minute, 60 % to go: two minutes from the last observation.
    assert scheduling.eta(points, T0 + timedelta(seconds=60)) == timedelta(minutes=2)
    assert scheduling.eta(points, T0 + timedelta(seconds=90)) == timedelta(seconds=90)


@pytest.mark.parametrize(
    "points",
    [
        [],
        [ProgressPoint(T0, 10)],
        [ProgressPoint(T0, 10), ProgressPoint(T0 + timedelta(seconds=5), 10)],
        [ProgressPoint(T0, 10), ProgressPoint(T0, 50)],
    ],
)
def test_eta_needs_real_history(points):
    assert scheduling.eta(points, T0 + timedelta(seconds=10)) is None


def test_error_backoff_is_exponential_and_capped():
    delays = [scheduling.error_backoff(n) for n in range(1, 12)]
    assert 4.5 <= delays[0] <= 5.5 and 9 <= delays[1] <= 11 and 18 <= delays[2] <= 22
    assert max(delays) <= scheduling.ERROR_MAX * 1.1
    assert scheduling.error_backoff(1, retry_after=7) == 7
    assert scheduling.error_backoff(3, retry_after=99999) == scheduling.ERROR_MAX


def test_retention():
    three_days = timedelta(days=3)
    assert scheduling.past_retention(three_days, started=T0 - timedelta(days=4), now=T0)
    assert not scheduling.past_retention(three_days, started=T0 - timedelta(days=2), now=T0)
    assert not scheduling.past_retention(None, started=T0 - timedelta(days=400), now=T0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_budget_spends_under_the_limit_in_small_bursts():
    from jobs.refresh.budget import RateBudget

    clock = FakeClock()
    budget = RateBudget(50, clock=clock)
    taken = 0
    for _ in range(1000):  # ten simulated seconds in 10 ms steps
        clock.now += 0.01
        taken += budget.try_take()
    assert 470 <= taken <= 476  # 95 % of 50/s
    clock.now += 10  # a long quiet spell does not bank a big burst
    assert sum(budget.try_take() for _ in range(20)) <= 5


def test_a_burst_of_throttles_halves_once_and_the_rate_recovers():
    from jobs.refresh.budget import RateBudget

    clock = FakeClock()
    budget = RateBudget(100, clock=clock)
    for _ in range(16):  # sixteen in-flight requests all come back throttled
        budget.slow_down()
    assert budget.rate == 47.5
    clock.now += 1.5
    budget.slow_down()
    assert budget.rate == 23.75
    clock.now += budget.RECOVER_AFTER + 1
    budget.try_take()
    assert budget.rate == 95


class FakeSleep:
    """Sleeps on a FakeClock, recording each wait; `stopping` plays a cluster's stop."""

    def __init__(self, clock: FakeClock, *, stopping: bool = False) -> None:
        self.clock = clock
        self.stopping = stopping
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.now += seconds
        return self.stopping


def test_taking_from_the_budget_sleeps_exactly_until_the_next_token():
    from jobs.refresh.budget import RateBudget

    clock = FakeClock()
    sleep = FakeSleep(clock)
    budget = RateBudget(10, clock=clock, sleep=sleep)  # 9.5 tokens a second
    assert budget.take() and sleep.waits == []  # the first one is there
    assert budget.take()
    assert sleep.waits == [pytest.approx(1 / 9.5)]  # one wait, no polling
    # A token that would come after the deadline is not waited for.
    assert not budget.take(deadline=clock.now + 0.05)
    assert len(sleep.waits) == 1
    assert budget.take(deadline=clock.now + 0.2) and len(sleep.waits) == 2


def test_taking_from_the_budget_gives_up_when_the_cluster_stops(monkeypatch):
    import multiprocessing

    from jobs.refresh import shutdown
    from jobs.refresh.budget import RateBudget

    clock = FakeClock()
    sleep = FakeSleep(clock, stopping=True)
    budget = RateBudget(1, clock=clock, sleep=sleep)
    assert budget.take()
    assert not budget.take() and len(sleep.waits) == 1

    # The real sleep wakes on the shared stop flag at once, not after the 1 s wait.
    stopped = multiprocessing.get_context("fork").Event()
    stopped.set()
    monkeypatch.setattr(shutdown, "_flag", stopped)
    budget = RateBudget(1, clock=clock)
    assert budget.take()
    assert not budget.take()
