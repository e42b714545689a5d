"""A job's update as the refresh engine applies it, for the tests that need a job to
change under a page or an alert scan without a poll."""

from __future__ import annotations

from django.utils import timezone

from jobs.models import Job
from jobs.providers.base import JobStatus, State
from jobs.services import job_apply_status


def apply_failure(job: Job, *, code: str, message: str = "") -> None:
    """Apply, now, the status a poll would bring back for `job` failing with `code`."""
    status = JobStatus(
        external_id=job.external_id,
        state=State.FAILED,
        provider_state="FAIL",
        failure_code=code,
        failure_message=message,
    )
    job_apply_status(job_id=job.pk, status=status, asked_at=timezone.now())
