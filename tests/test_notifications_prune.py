"""Notification records past their retention are deleted hourly, account by account, in
short chunks; nothing else goes with them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from jobs.models import Job, JobEvent, Notification
from jobs.schedules import ensure_schedules
from jobs.services.notifications import notifications_prune

pytestmark = pytest.mark.django_db

Outcome = Notification.Outcome


def _records(account, job, *, days_ago: list[float], now) -> None:
    Notification.objects.bulk_create(
        Notification(
            account=account,
            received_at=now - timedelta(days=days),
            task_id=job.external_id,
            event="TaskFinish",
            outcome=Outcome.ACCEPTED,
            job=job,
        )
        for days in days_ago
    )


def test_only_records_past_the_retention_go_on_every_account(accounts, settings):
    settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS = 30
    now = timezone.now()
    ci, ice = accounts["tencent_ci"], accounts["aliyun_ice"]
    ci_job = Job.objects.create(account=ci, external_id="ci-1", state="running")
    ice_job = Job.objects.create(account=ice, external_id="ice-1", state="running")
    JobEvent.objects.create(
        job=ci_job, at=now - timedelta(days=40), state="running", kind=JobEvent.Kind.NOTIFIED
    )
    _records(ci, ci_job, days_ago=[45, 31, 30.01, 29.99, 1], now=now)
    _records(ice, ice_job, days_ago=[60, 2], now=now)

    assert notifications_prune(now=now) == 4

    left = sorted(
        (r.account_id, round((now - r.received_at).total_seconds() / 86400, 2))
        for r in Notification.objects.all()
    )
    assert left == sorted([(ci.pk, 29.99), (ci.pk, 1.0), (ice.pk, 2.0)])
    # The job's timeline keeps its own line, and the job stays.
    assert JobEvent.objects.filter(job=ci_job, kind=JobEvent.Kind.NOTIFIED).count() == 1
    assert Job.objects.filter(pk__in=[ci_job.pk, ice_job.pk]).count() == 2
    assert notifications_prune(now=now) == 0  # a second run finds nothing


def test_the_retention_comes_from_settings(accounts, settings):
    now = timezone.now()
    ci = accounts["tencent_ci"]
    job = Job.objects.create(account=ci, external_id="ci-2", state="running")
    _records(ci, job, days_ago=[3, 0.5], now=now)
    settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS = 7
    assert notifications_prune(now=now) == 0
    settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS = 1
    assert notifications_prune(now=now) == 1
    assert list(Notification.objects.values_list("task_id", flat=True)) == ["ci-2"]


def test_a_big_backlog_goes_in_chunks_oldest_first(accounts, settings):
    settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS = 30
    now = timezone.now()
    ci = accounts["tencent_ci"]
    job = Job.objects.create(account=ci, external_id="ci-3", state="running")
    _records(ci, job, days_ago=[31 + n for n in range(5)] + [5], now=now)

    with CaptureQueriesContext(connection) as queries:
        assert notifications_prune(now=now, chunk=2) == 5
    deletes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]
    # 5 old rows, 2 at a time: three short DELETEs, each naming its rows, never a range.
    assert len(deletes) == 3
    assert all("received_at" not in sql for sql in deletes)
    assert Notification.objects.count() == 1


def test_an_hourly_schedule_runs_the_prune_task(accounts, settings):
    settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS = 30
    ensure_schedules()
    ensure_schedules()  # idempotent
    schedule = Schedule.objects.get(name="notifications-prune")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES,
        60,
        -1,
    )
    ci = accounts["tencent_ci"]
    job = Job.objects.create(account=ci, external_id="ci-4", state="running")
    _records(ci, job, days_ago=[90], now=timezone.now())
    assert import_string(schedule.func)() == 1
    assert not Notification.objects.exists()
