"""Failing episodes on a job's timeline: checks that start failing, and answer again.

An episode opens once (one FAILING event, however many failures follow) and closes
with one RECOVERED event when the job is answered again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.models import Job, JobEvent


def failing_note(message: str) -> str:
    return message[:255]


def jobs_start_failing(*, account_id: int, message: str, now: datetime) -> None:
    """The account cannot be asked: every watched job of it starts a failing episode.

    Jobs already failing are left alone, so this writes once per episode (one update and
    one batch of events), however many times the account fails meanwhile.
    """
    watched = (
        Job.objects.filter(account_id=account_id, next_poll_at__isnull=False, poll_errors=0)
        .active()
        .values_list("pk", "state")
    )
    rows = list(watched)
    if not rows:
        return
    watched.update(poll_errors=1, last_poll_error=message)
    JobEvent.objects.bulk_create(
        [
            JobEvent(
                job_id=pk,
                at=now,
                state=state,
                kind=JobEvent.Kind.FAILING,
                note=failing_note(message),
            )
            for pk, state in rows
        ],
        batch_size=500,
    )


def job_record_recovered(job: Job, now: datetime) -> None:
    """A job whose checks had failed was answered again: close its failing episode."""
    since = (
        JobEvent.objects.filter(job_id=job.pk, kind=JobEvent.Kind.FAILING)
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    note = "Answered again"
    if since is not None:
        note += f" after failing since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    JobEvent.objects.create(
        job_id=job.pk, at=now, state=job.state, kind=JobEvent.Kind.RECOVERED, note=note
    )
