"""Failing episodes: on a job's timeline (checks that start failing, and answer again),
and of an account's health (AccountEpisode: credentials, reachability, throttling, discovery).

An episode opens once (one FAILING event, however many failures follow) and closes
with one RECOVERED event when the job is answered again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.models import AccountEpisode, Job, JobEvent


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


def account_episode_start(*, account_id: int, kind: str, now: datetime) -> None:
    """The account failed in a way of this `kind`: open its episode unless one is open.

    A read on every failure, a write on the first only; the partial unique constraint
    (one open episode per account and kind) settles two writers racing to open it.
    """
    open_episode = AccountEpisode.objects.filter(
        account_id=account_id, kind=kind, ended_at__isnull=True
    )
    if not open_episode.exists():
        AccountEpisode.objects.bulk_create(
            [AccountEpisode(account_id=account_id, kind=kind, started_at=now)],
            ignore_conflicts=True,
        )


def account_episodes_end(*, account_id: int, now: datetime, discovery: bool = False) -> None:
    """A good answer from the provider: close the account's open episodes. Only a good
    discovery run closes a discovery episode (a poll says nothing of the list call)."""
    open_episodes = AccountEpisode.objects.filter(account_id=account_id, ended_at__isnull=True)
    if not discovery:
        open_episodes = open_episodes.exclude(kind=AccountEpisode.Kind.DISCOVERY)
    # A read first: on SQLite even an UPDATE that matches nothing takes the write lock.
    if open_episodes.exists():
        open_episodes.update(ended_at=now)
