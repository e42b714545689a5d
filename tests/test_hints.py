"""A notified job is asked ahead of its account's backlog, by whichever loop holds the
account, within a fraction of a second (jobs/refresh/hints.py)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import AccountUsage, Job
from jobs.refresh import RefreshLoop
from jobs.refresh.hints import (
    GATHER_SECONDS,
    RIDE_SECONDS,
    hints_apply,
    hints_serve,
    hints_take,
)
from jobs.refresh.leases import account_lease_take
from jobs.refresh.runs import AccountRun
from tests.clusters import running_ivh_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_notified_job_is_asked_before_the_backlog(simulator, accounts):
    account = accounts["tencent_ivh"]
    ids = running_ivh_jobs(simulator, account, prefix="ivh-h", count=200, progress=10, rate_limit=5)
    now = timezone.now()
    # Due in order, the last one last: without the hint it would wait about 40 s.
    for n, external_id in enumerate(ids):
        Job.objects.filter(external_id=external_id).update(
            next_poll_at=now - timedelta(seconds=len(ids) - n)
        )
    last = Job.objects.get(external_id=ids[-1])

    def run() -> None:
        try:
            RefreshLoop(seconds=6).run()
        finally:
            connection.close()  # the thread's own

    runner = threading.Thread(target=run)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while not Job.objects.filter(version__gt=0).count() >= 3:  # the loop is polling
            assert time.monotonic() < deadline
            time.sleep(0.05)
        Job.objects.filter(pk=last.pk).update(
            notified_at=timezone.now(), next_poll_at=timezone.now()
        )
        hinted = time.monotonic()
        while Job.objects.get(pk=last.pk).last_polled_at is None:
            assert time.monotonic() - hinted < 2.0, "the hint waited behind the backlog"
            time.sleep(0.02)
    finally:
        runner.join()
    polled = Job.objects.filter(last_polled_at__isnull=False).count()
    assert polled < len(ids) / 2  # the backlog was far from done: the hint jumped it
    assert Job.objects.get(pk=last.pk).notified_at is None  # taken


def test_hints_of_jobs_in_flight_stay_for_after_and_other_accounts_are_reported(accounts):
    ivh, vod = accounts["tencent_ivh"], accounts["tencent_vod"]
    now = timezone.now()
    a = Job.objects.create(account=ivh, external_id="a", notified_at=now)
    b = Job.objects.create(account=ivh, external_id="b", notified_at=now)
    Job.objects.create(account=vod, external_id="c", notified_at=now)
    taken, elsewhere = hints_take({ivh.pk}, in_flight={b.pk})
    assert [due.pk for due in taken[ivh.pk]] == [a.pk] and elsewhere
    assert set(
        Job.objects.filter(notified_at__isnull=False).values_list("external_id", flat=True)
    ) == {"b", "c"}


def _ci_jobs(account, prefix: str, count: int, due_in: float) -> list[Job]:
    at = timezone.now() + timedelta(seconds=due_in)
    return Job.objects.bulk_create(
        Job(account=account, external_id=f"{prefix}{n}", state="running", next_poll_at=at)
        for n in range(count)
    )


def test_a_notified_job_of_a_batching_account_takes_the_jobs_due_soon_along(accounts):
    ci, ivh = accounts["tencent_ci"], accounts["tencent_ivh"]
    (hinted,) = _ci_jobs(ci, "n", 1, due_in=3600)
    soon = _ci_jobs(ci, "s", 5, due_in=RIDE_SECONDS / 2)
    _ci_jobs(ci, "l", 5, due_in=30)  # not due for a while: polled in their own time
    (ivh_hinted,) = Job.objects.bulk_create([Job(account=ivh, external_id="i", state="running")])
    Job.objects.create(account=ivh, external_id="i2", state="running", next_poll_at=timezone.now())
    notified = timezone.now() - timedelta(seconds=GATHER_SECONDS)  # no longer gathering
    Job.objects.filter(pk__in=[hinted.pk, ivh_hinted.pk]).update(notified_at=notified)
    runs = {a.pk: AccountRun.of(a, once=False) for a in (ci, ivh)}
    runs[ci.pk].in_flight_jobs.add(soon[0].pk)  # asked already: not again
    assert not hints_apply(runs, threading.Lock())
    assert [due.pk for due in runs[ci.pk].due] == [hinted.pk, *(job.pk for job in soon[1:])]
    assert [due.pk for due in runs[ivh.pk].due] == [ivh_hinted.pk]  # one job per request


def test_the_riders_go_in_the_notified_jobs_request(simulator, accounts):
    # One request for the notified job and the four due a second later; alone, the hint
    # was a request of its own and the four another, a second on. (A first job, due now,
    # has the loop take the account.)
    ci = accounts["tencent_ci"]
    first, *jobs = [*_ci_jobs(ci, "p", 1, due_in=0), *_ci_jobs(ci, "r", 5, due_in=3600)]
    for job in [first, *jobs]:
        simulator.add_job("tencent_ci", job.external_id, pinned="running")
    stats: dict[str, int] = {}

    def run() -> None:
        try:
            stats.update(RefreshLoop(seconds=4).run())
        finally:
            connection.close()

    runner = threading.Thread(target=run)
    runner.start()
    try:
        deadline = time.monotonic() + 3
        while not Job.objects.get(pk=first.pk).version:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        now = timezone.now()
        Job.objects.filter(pk__in=[j.pk for j in jobs[1:]]).update(
            next_poll_at=now + timedelta(seconds=1)
        )
        Job.objects.filter(pk=jobs[0].pk).update(notified_at=now, next_poll_at=now)
    finally:
        runner.join()
    assert stats["jobs"] == 6 and stats["requests"] == 2


def test_a_batching_accounts_hints_gather_until_old_enough_or_a_batch(accounts):
    ci, ivh = accounts["tencent_ci"], accounts["tencent_ivh"]
    now = timezone.now()
    fresh = _ci_jobs(ci, "g", 3, due_in=3600)
    Job.objects.filter(pk__in=[j.pk for j in fresh]).update(notified_at=now)
    (ivh_job,) = Job.objects.bulk_create(
        [Job(account=ivh, external_id="gi", state="running", notified_at=now)]
    )
    gather = {ci.pk: 50}
    taken, _ = hints_take({ci.pk, ivh.pk}, in_flight=set(), gather=gather)
    # The CI hints wait for others (and stay set); the IVH one, one job a request, goes.
    assert set(taken) == {ivh.pk} and [d.pk for d in taken[ivh.pk]] == [ivh_job.pk]
    assert Job.objects.filter(account=ci, notified_at__isnull=False).count() == 3
    # A full batch goes at once, however young.
    taken, _ = hints_take({ci.pk}, in_flight=set(), gather={ci.pk: 3})
    assert len(taken[ci.pk]) == 3
    # Old enough: they go, together.
    later = _ci_jobs(ci, "h", 2, due_in=3600)
    old = now - timedelta(seconds=GATHER_SECONDS + 0.1)
    Job.objects.filter(pk__in=[j.pk for j in later]).update(notified_at=old)
    taken, _ = hints_take({ci.pk}, in_flight=set(), gather=gather)
    assert sorted(d.pk for d in taken[ci.pk]) == sorted(j.pk for j in later)
    assert not Job.objects.filter(notified_at__isnull=False).exists()


def test_between_loops_the_notified_jobs_are_asked_at_once_in_one_request(simulator, accounts):
    ci = accounts["tencent_ci"]
    jobs = _ci_jobs(ci, "b", 3, due_in=3600)
    for job in jobs:
        simulator.add_job("tencent_ci", job.external_id, pinned="running")
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(notified_at=timezone.now())
    before = simulator.requests.get("tencent_ci", 0)
    assert hints_serve(account_id=ci.pk) == 3
    assert simulator.requests.get("tencent_ci", 0) - before == 1
    assert not Job.objects.filter(notified_at__isnull=False).exists()
    assert Job.objects.filter(account=ci, last_polled_at__isnull=False).count() == 3
    ci.refresh_from_db()
    assert not ci.lease_owner  # given back
    # Counted as a loop counts it: the request in the account's usage, the good answer.
    assert sum(AccountUsage.objects.filter(account=ci).values_list("requests", flat=True)) == 1
    assert ci.last_ok_at is not None


def test_a_loop_holding_the_account_keeps_its_hints(simulator, accounts):
    ci = accounts["tencent_ci"]
    (job,) = _ci_jobs(ci, "k", 1, due_in=3600)
    Job.objects.filter(pk=job.pk).update(notified_at=timezone.now())
    assert account_lease_take(account_id=ci.pk, owner="loop:test")
    assert hints_serve(account_id=ci.pk) == 0
    assert Job.objects.get(pk=job.pk).notified_at is not None  # the loop's to take
    assert hints_serve(account_id=10**9) == 0  # an account gone since: nothing to do
