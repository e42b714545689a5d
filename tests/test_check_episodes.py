"""Failed checks and account pauses enter the job's timeline: one "checks failing" entry
when an episode starts and one "recovered" when it ends, however many checks fail in
between (issue 11, item 5). Over real HTTP to the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, Job, JobEvent
from jobs.refresh import refresh_once

pytestmark = pytest.mark.django_db(transaction=True)


def _kinds(job: Job) -> list[str]:
    return list(job.events.exclude(kind="").values_list("kind", flat=True))


def _due_now(*jobs: Job) -> None:
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(next_poll_at=timezone.now())


def test_a_failing_episode_is_one_entry_and_its_end_another(simulator, accounts, viewer_client):
    account = accounts["tencent_ivh"]
    sim_job = simulator.add_job("tencent_ivh", "ivh-episode", pinned="running", pinned_progress=10)
    job = Job.objects.create(account=account, external_id="ivh-episode")
    refresh_once()
    assert _kinds(job) == []

    simulator.inject("http_500", "tencent_ivh")
    for _ in range(3):
        _due_now(job)
        refresh_once()
    job.refresh_from_db()
    assert job.poll_errors == 3
    failing = job.events.get(kind=JobEvent.Kind.FAILING)  # once, not per failed check
    assert "HTTP 500" in failing.note
    assert failing.progress is None  # never taken for a progress observation

    simulator.clear_faults()
    sim_job.pinned_progress = 70
    _due_now(job)
    refresh_once()
    job.refresh_from_db()
    assert job.poll_errors == 0 and job.progress == 70
    assert _kinds(job) == ["failing", "recovered"]
    recovered = job.events.get(kind=JobEvent.Kind.RECOVERED)
    assert "failing since" in recovered.note
    # The gap shows on the page, between the two status entries.
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    timeline = html[html.index('<ol class="timeline">') :]
    order = [timeline.index(s) for s in ("70 %", "Checks recovered", "Checks failing", "10 %")]
    assert order == sorted(order)


def test_an_account_pause_enters_every_watched_jobs_timeline_once(simulator, accounts):
    account = accounts["tencent_vod"]
    for n in range(2):
        simulator.add_job("tencent_vod", f"vod-pause-{n}", pinned="running", pinned_progress=20)
    jobs = [Job.objects.create(account=account, external_id=f"vod-pause-{n}") for n in range(2)]
    stopped = Job.objects.create(account=account, external_id="vod-pause-x", next_poll_at=None)
    refresh_once()

    simulator.inject("bad_signature", "tencent_vod")
    for _ in range(2):  # the account fails again after its pause: still one entry
        Account.objects.filter(pk=account.pk).update(retry_at=None)
        _due_now(*jobs)
        refresh_once()
    account.refresh_from_db()
    assert account.consecutive_failures == 2 and account.retry_at > timezone.now()
    for job in jobs:
        job.refresh_from_db()
        assert _kinds(job) == ["failing"]
        assert "account paused until" in job.last_poll_error
        assert "AuthFailure" in job.events.get(kind="failing").note
    assert _kinds(stopped) == []  # not watched, nothing to say

    simulator.clear_faults()
    Account.objects.filter(pk=account.pk).update(retry_at=None)
    _due_now(*jobs)
    refresh_once()
    for job in jobs:
        job.refresh_from_db()
        assert job.poll_errors == 0 and job.last_poll_error == ""
        assert _kinds(job) == ["failing", "recovered"]


def test_a_short_throttle_is_not_an_outage(simulator, accounts):
    account = accounts["tencent_vod"]
    simulator.add_job("tencent_vod", "vod-throttle", pinned="running", pinned_progress=20)
    job = Job.objects.create(account=account, external_id="vod-throttle")
    refresh_once()
    simulator.inject("throttle", "tencent_vod", count=1)
    _due_now(job)
    refresh_once()
    account.refresh_from_db()
    assert account.last_error and account.retry_at is not None
    assert account.retry_at < timezone.now() + timedelta(seconds=60)
    assert _kinds(job) == []
