"""The first check of a job pasted on the Track page: pending until its first poll,
then tracked, or refused (not found, an error) and removed again.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobs.models import Job, TrackItem
from jobs.providers.base import ProviderError

PENDING = TrackItem.Outcome.PENDING


def track_unverified(job_ids: Iterable[int]) -> set[int]:
    """Which of these never-polled jobs wait for their first check from a paste."""
    ids = list(job_ids)
    if not ids:
        return set()
    return set(
        TrackItem.objects.filter(job_id__in=ids, outcome=PENDING).values_list("job_id", flat=True)
    )


def track_refuse(*, job_ids: Iterable[int], error: ProviderError) -> None:
    """A pasted job's first check failed: report it on its items ("not found" or "error")
    and remove the job, so nothing unverified sits in the list (the person may still
    track it anyway)."""
    ids = list(job_ids)
    if not ids:
        return
    outcome = TrackItem.Outcome.NOT_FOUND if error.is_not_found else TrackItem.Outcome.ERROR
    TrackItem.objects.filter(job_id__in=ids, outcome=PENDING).update(
        outcome=outcome, message=str(error)[:500]
    )
    Job.objects.filter(pk__in=ids, last_polled_at__isnull=True).delete()


def track_account_refused(*, account_id: int, error: ProviderError) -> None:
    """The account itself was refused (credentials, signature): none of its pasted jobs
    waiting for a first check can be checked; report and remove them now rather than
    leave them waiting through the account's back-off."""
    job_ids = TrackItem.objects.filter(
        batch__account_id=account_id, outcome=PENDING, job__isnull=False
    ).values_list("job_id", flat=True)
    track_refuse(job_ids=list(job_ids), error=error)
