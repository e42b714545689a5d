"""A batch of answers is stored with one read and a short write, never over a newer change."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobEvent
from jobs.providers.base import JobStatus, State
from jobs.services import status as status_service


def running(job: Job, progress: int) -> JobStatus:
    return JobStatus(
        external_id=job.external_id,
        state=State.RUNNING,
        provider_state="RUNNING",
        progress=progress,
        raw={"Progress": progress},
    )


def test_fifty_answers_cost_one_read_and_one_update_each(accounts):
    account = accounts["tencent_ci"]
    jobs = [Job.objects.create(account=account, external_id=f"ci-{n}") for n in range(50)]
    services.jobs_apply_statuses(
        statuses={job.pk: running(job, 10) for job in jobs}, asked_at=timezone.now()
    )
    statuses = {job.pk: running(job, 20) for job in jobs}

    with CaptureQueriesContext(connection) as queries:
        applied = services.jobs_apply_statuses(statuses=statuses, asked_at=timezone.now())

    assert all(result.changed for result in applied.values()) and len(applied) == 50
    # Per job: its conditional UPDATE. Per batch: the jobs, their ETA starts, the events'
    # INSERT and the transaction; no pastes' UPDATE (no first answers) and no re-read
    # (every update matched). Job by job this was five statements a job (250).
    assert len(queries) <= 50 + 5, [q["sql"][:80] for q in queries.captured_queries]
    assert set(Job.objects.values_list("progress", "version").distinct()) == {(20, 2)}
    assert JobEvent.objects.filter(job__in=jobs, progress=20).count() == 50


def test_a_job_changed_after_the_read_is_applied_again_from_its_new_row(accounts):
    account = accounts["tencent_ivh"]
    job = Job.objects.create(account=account, external_id="ivh-raced")
    read = status_service._read().get(pk=job.pk)
    plan = status_service._plan(read, running(job, 30), timezone.now(), timezone.now(), None)
    # Another writer moves the job on between this read and this write.
    Job.objects.filter(pk=job.pk).update(version=5, progress=60)

    assert status_service._write_many([plan], timezone.now()) == []
    job.refresh_from_db()
    assert (job.version, job.progress) == (5, 60)  # nothing of the void plan was written


def test_the_batch_falls_back_to_the_locked_path_when_its_plan_is_void(accounts, monkeypatch):
    account = accounts["tencent_ivh"]
    job = Job.objects.create(account=account, external_id="ivh-raced-2")
    plan = status_service._plan

    def plan_then_race(job_row, *args):
        made = plan(job_row, *args)
        Job.objects.filter(pk=job_row.pk).update(version=7)  # lands before the write
        return made

    monkeypatch.setattr(status_service, "_plan", plan_then_race)
    applied = services.jobs_apply_statuses(
        statuses={job.pk: running(job, 40)}, asked_at=timezone.now()
    )
    job.refresh_from_db()
    assert applied[job.pk].changed
    # Applied on top of the newer row: version 7 + 1, not the stale read's 0 + 1.
    assert (job.version, job.progress, job.state) == (8, 40, State.RUNNING)


def test_a_deleted_job_is_left_out_and_the_rest_is_stored(accounts):
    account = accounts["aliyun_ice"]
    kept, gone = (Job.objects.create(account=account, external_id=f"ice-{n}") for n in range(2))
    statuses = {kept.pk: running(kept, 10), gone.pk: running(gone, 10)}
    Job.objects.filter(pk=gone.pk).delete()

    applied = services.jobs_apply_statuses(statuses=statuses, asked_at=timezone.now())

    assert set(applied) == {kept.pk}
    assert Job.objects.get(pk=kept.pk).progress == 10
