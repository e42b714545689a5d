"""A notified job is asked ahead of its account's backlog, by whichever loop holds the
account, within a fraction of a second (jobs/refresh/hints.py)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import Job
from jobs.refresh import RefreshLoop
from jobs.refresh.hints import hints_take
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
