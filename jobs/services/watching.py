"""An operator's actions on one job: stop or resume watching it, note a refresh.

Submitting (and resubmitting) jobs is jobs/services/submitting.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from jobs.models import Job, JobEvent
from jobs.services.audit import Action, Outcome, Via, audit_record


def job_stop_watching(*, job: Job, user: Any, via: str = Via.WEB) -> None:
    """Stop polling a job on an operator's request (it stays listed)."""
    note = f"Stopped watching by {user}"
    _watch_change(
        job,
        dict(next_poll_at=None, stopped_reason=note),
        note=note,
        user=user,
        via=via,
        action=Action.STOP_WATCHING,
        summary=f"Stopped watching {job.display_name}",
    )


def job_resume_watching(*, job: Job, user: Any, via: str = Via.WEB) -> None:
    if job.is_terminal:
        return
    _watch_change(
        job,
        dict(next_poll_at=timezone.now(), stopped_reason="", poll_errors=0),
        note=f"Watching again, at the request of {user}",
        user=user,
        via=via,
        action=Action.WATCH_AGAIN,
        summary=f"Watching {job.display_name} again",
    )


def _watch_change(
    job: Job, fields: dict[str, Any], *, note: str, user: Any, via: str, action: str, summary: str
) -> None:
    """Apply an operator's change to how a job is watched: the job's row, its timeline's
    action line and the audit entry, together."""
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(**fields, version=F("version") + 1)
        JobEvent.objects.create(
            job=job,
            state=job.state,
            provider_state=job.provider_state,
            note=note,
            kind=JobEvent.Kind.ACTION,
        )
        audit_record(
            user=user,
            via=via,
            action=action,
            outcome=Outcome.DONE,
            summary=summary,
            account=job.account,
            jobs=[job],
        )


def job_request_refresh(*, job: Job, user: Any, via: str = Via.WEB) -> None:
    """Queue an operator's "Refresh now"; its outcome settles the audit entry later."""
    entry = audit_record(
        user=user,
        via=via,
        action=Action.REFRESH,
        outcome=Outcome.REQUESTED,
        summary=f"Refresh of {job.display_name} requested",
        account=job.account,
        jobs=[job],
    )
    async_task("jobs.tasks.job_refresh", job.pk, entry.pk, task_name=f"refresh job {job.pk}")


def job_record_refresh(*, job_id: int, outcome: str, now: datetime | None = None) -> None:
    """Put the outcome of an operator's "Refresh now" on the job's timeline, so the open
    page shows it (the version bump makes its next poll fetch it)."""
    job = Job.objects.only("pk", "state", "provider_state").get(pk=job_id)
    with transaction.atomic():
        JobEvent.objects.create(
            job_id=job.pk,
            at=now or timezone.now(),
            state=job.state,
            provider_state=job.provider_state,
            kind=JobEvent.Kind.REFRESH,
            note=outcome[:255],
        )
        Job.objects.filter(pk=job.pk).update(version=F("version") + 1)
