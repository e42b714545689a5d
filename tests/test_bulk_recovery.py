"""Bulk runs whose worker died: the sweep resumes them from where they got to, over real
HTTP to the simulator, without acting twice on a settled job; after MAX_RESUMES it ends
them with the rest failed and the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import AuditEntry, BulkAction, Job, JobEvent
from jobs.providers.base import State
from jobs.refresh import refresh_once
from jobs.schedules import PERIODIC
from jobs.services import bulk, jobs_cancel
from jobs.services.api_tokens import api_token_create
from jobs.services.audit import Via
from jobs.services.bulk_recovery import GAVE_UP, MAX_RESUMES, STALL, bulk_sweep
from tests.test_bulk import LATER, make

pytestmark = pytest.mark.django_db(transaction=True)

LONG_AGO = timezone.now() - timedelta(hours=1)


def dead_run(user, action: str, jobs: list[Job], *, position: int, **fields) -> BulkAction:
    """A run as a dead worker leaves it: running, its heartbeat old, the first `position`
    jobs settled and counted."""
    fields.setdefault("done", position)
    return BulkAction.objects.create(
        user=user,
        via=Via.WEB,
        action=action,
        state=BulkAction.State.RUNNING,
        job_ids=[j.pk for j in jobs],
        total=len(jobs),
        position=position,
        started_at=LONG_AGO,
        moved_at=LONG_AGO,
        heartbeat_at=timezone.now() - STALL - timedelta(seconds=1),
        **fields,
    )


def test_the_sweep_is_an_every_minute_schedule():
    assert PERIODIC["bulk-sweep"] == "jobs.tasks.bulk_sweep"


def test_a_cancel_whose_worker_died_is_resumed_and_asks_only_the_rest(
    simulator, accounts, operator, operator_client
):
    ci = accounts["tencent_ci"]
    jobs = []
    for n in range(10):
        simulator.add_job("tencent_ci", f"ci-wait-{n}", pinned="queued")
        jobs.append(make(ci, f"ci-wait-{n}", State.QUEUED))
    # The dead worker got through the first four: asked, answered, counted.
    first = jobs_cancel(account=ci, jobs=jobs[:4], user=operator, via=Via.WEB)
    assert [r.outcome for r in first] == ["accepted"] * 4
    run = dead_run(operator, "cancel", jobs, position=4, detail={"by_account": True})
    asked_before = simulator.requests["tencent_ci"]

    assert bulk_sweep() == 1

    run.refresh_from_db()
    assert (run.state, run.done, run.failed, run.skipped) == ("done", 10, 0, 0)
    assert (run.position, run.resumes) == (10, 1) and run.resumed_at is not None
    assert simulator.requests["tencent_ci"] - asked_before == 6  # the rest, once each
    for job in jobs:  # one cancel line per job on its timeline: none was asked twice
        assert JobEvent.objects.filter(job=job, kind=JobEvent.Kind.ACTION).count() == 1
    assert run.started_at == LONG_AGO  # the run's own start, not the resume's
    html = operator_client.get(reverse("bulk-detail", args=[run.code])).content.decode()
    assert "Resumed once" in html and "after its worker stopped" in html


def test_a_refresh_whose_worker_died_marks_the_rest_due_and_the_engine_polls_each_once(
    simulator, accounts, operator
):
    ivh = accounts["tencent_ivh"]  # one job per request
    for n in range(6):
        simulator.add_job("tencent_ivh", f"ivh-{n}", pinned="succeeded")
    jobs = [make(ivh, f"ivh-{n}") for n in range(6)]
    Job.objects.filter(pk__in=[j.pk for j in jobs[:3]]).update(next_poll_at=LONG_AGO)
    run = dead_run(operator, "refresh", jobs, position=3, done=0)

    assert bulk_sweep() == 1
    run.refresh_from_db()
    assert (run.state, run.resumes, run.position) == ("waiting", 1, 6)
    assert Job.objects.filter(next_poll_at=LONG_AGO).count() == 6  # due since it began

    asked_before = simulator.requests.get("tencent_ivh", 0)
    assert refresh_once(account_names=[ivh.name])["jobs"] == 6
    assert simulator.requests["tencent_ivh"] - asked_before == 6
    page = bulk.bulk_progress(bulk=BulkAction.objects.get(pk=run.pk))
    assert (page.done, page.failed, page.state) == (6, 0, "done")


def test_a_queued_run_that_never_started_is_started(accounts, operator):
    ci = accounts["tencent_ci"]
    jobs = [make(ci, f"ci-{n}") for n in range(3)]
    run = BulkAction.objects.create(
        user=operator, via="web", action="stop_watching", job_ids=[j.pk for j in jobs], total=3
    )
    assert bulk_sweep() == 0  # just asked: its worker may still be on the way
    BulkAction.objects.filter(pk=run.pk).update(created_at=timezone.now() - STALL * 2)
    assert bulk_sweep() == 1
    run.refresh_from_db()
    assert (run.state, run.done, run.resumes) == ("done", 3, 1)
    assert not Job.objects.filter(next_poll_at__isnull=False).exists()


def test_a_live_run_is_left_alone_and_a_slow_worker_stops_once_superseded(accounts, operator):
    ci = accounts["tencent_ci"]
    jobs = [make(ci, f"ci-{n}") for n in range(4)]
    run = dead_run(operator, "stop_watching", jobs, position=0, done=0)
    BulkAction.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=1))
    assert bulk_sweep() == 0
    slow = BulkAction.objects.get(pk=run.pk)  # what the slow worker holds
    BulkAction.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - STALL * 2)
    assert bulk_sweep() == 1  # resumed and, in the synchronous test cluster, finished

    beat = bulk.Heartbeat(slow)
    beat.last = 0.0  # due to beat
    assert beat() is False  # the slow worker learns the run is no longer its own
    assert BulkAction.objects.get(pk=run.pk).done == 4
    assert JobEvent.objects.count() == 4


def test_after_the_retry_cap_the_rest_fails_with_the_reason(accounts, operator, operator_client):
    ci = accounts["tencent_ci"]
    jobs = [make(ci, f"ci-{n}") for n in range(5)]
    created = bulk.bulk_action_create(
        user=operator, via=Via.WEB, action="stop_watching", job_ids=[j.pk for j in jobs]
    )
    # Rewind it to a run whose worker died for the last time, two jobs in.
    BulkAction.objects.filter(pk=created.pk).update(
        state="running",
        done=2,
        position=2,
        resumes=MAX_RESUMES,
        heartbeat_at=timezone.now() - STALL * 2,
        finished_at=None,
    )
    assert bulk_sweep() == 1
    run = BulkAction.objects.get(pk=created.pk)
    reason = GAVE_UP.format(stops=MAX_RESUMES + 1, resumes=MAX_RESUMES)
    assert (run.state, run.done, run.failed, run.settled) == ("done", 2, 3, 5)
    assert run.detail["failed"] == {str(pk): reason for pk in run.job_ids[2:]}
    assert bulk.bulk_summary(run) == "2 no longer watched, 3 failed"
    entry = AuditEntry.objects.get(action="bulk")
    assert entry.outcome == "partial" and entry.summary == "2 no longer watched, 3 failed"
    assert bulk_sweep() == 0  # done: nothing more to sweep
    html = operator_client.get(reverse("bulk-detail", args=[run.code])).content.decode()
    assert "Resumed 3 times" in html and "stopped 4 times" in html
    failed = operator_client.get(reverse("bulk-failed", args=[run.code])).content.decode()
    assert "3 jobs failed" in failed


def test_a_refresh_past_the_cap_counts_the_unmarked_jobs_as_failed(simulator, accounts, operator):
    ivh = accounts["tencent_ivh"]
    for n in range(4):
        simulator.add_job("tencent_ivh", f"ivh-{n}", pinned="succeeded")
    jobs = [make(ivh, f"ivh-{n}") for n in range(4)]
    Job.objects.filter(pk__in=[j.pk for j in jobs[:2]]).update(next_poll_at=LONG_AGO)
    run = dead_run(operator, "refresh", jobs, position=2, done=0, resumes=MAX_RESUMES)
    assert bulk_sweep() == 1
    assert Job.objects.filter(next_poll_at__gt=timezone.now() + LATER / 2).count() == 2
    refresh_once(account_names=[ivh.name])
    page = bulk.bulk_progress(bulk=BulkAction.objects.get(pk=run.pk))
    assert (page.done, page.failed, page.state) == (2, 2, "done")
    failures = dict((job.pk, message) for job, message in bulk.bulk_failures(bulk=page))
    assert set(failures) == {j.pk for j in jobs[2:]}
    assert all(m.startswith("Not done: the run's worker stopped") for m in failures.values())


def test_the_page_and_the_api_say_when_a_worker_has_gone_quiet_and_was_resumed(
    accounts, operator, operator_client
):
    ci = accounts["tencent_ci"]
    run = dead_run(operator, "stop_watching", [make(ci, "ci-1"), make(ci, "ci-2")], position=0)
    BulkAction.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - STALL / 2)
    html = operator_client.get(reverse("bulk-detail", args=[run.code])).content.decode()
    assert "No sign of its worker for" in html and "Resumed" not in html

    BulkAction.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - STALL * 2)
    assert bulk_sweep() == 1
    token = api_token_create(user=operator, name="t")[1]
    status = Client().get(f"/api/v1/bulk/{run.code}", HTTP_AUTHORIZATION=f"Bearer {token}")
    answer = status.json()
    assert (answer["state"], answer["done"], answer["resumes"]) == ("done", 2, 1)
    assert answer["resumed_at"] is not None
