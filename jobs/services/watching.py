"""An operator's actions on one job: submit it, stop or resume watching, note a refresh."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jobs.models import Account, Job, JobEvent
from jobs.providers.base import ProviderError
from jobs.services.errors import InvalidInput
from jobs.services.tracking import job_track


def job_submit(*, account: Account, params: Mapping[str, Any]) -> Job:
    """Create a provider job and start tracking it, with its first status fetched.

    Raises InvalidInput for parameters the adapter refuses before sending anything, and
    ProviderError when the provider refuses the request.
    """
    adapter = account.adapter()
    if not adapter.can_submit:
        raise InvalidInput(f"{account.provider_label} jobs cannot be submitted from Clapboard")
    try:
        external_id = adapter.submit(**params)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    (result,) = job_track(account=account, external_ids=[external_id], verify=True)
    if result.job is None:  # the provider accepted it but cannot show it yet: poll it
        result = job_track(account=account, external_ids=[external_id])[0]
    if result.job is None:  # an ID Clapboard cannot store (over 255 characters)
        raise ProviderError(f"the provider's task ID cannot be tracked: {result.message}")
    return result.job


def job_stop_watching(*, job: Job, user: Any) -> None:
    """Stop polling a job on an operator's request (it stays listed)."""
    note = f"Stopped watching by {user}"
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            next_poll_at=None, stopped_reason=note, version=F("version") + 1
        )
        JobEvent.objects.create(
            job=job, state=job.state, provider_state=job.provider_state, note=note
        )


def job_resume_watching(*, job: Job, user: Any) -> None:
    if job.is_terminal:
        return
    note = f"Watching again, at the request of {user}"
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            next_poll_at=timezone.now(), stopped_reason="", poll_errors=0, version=F("version") + 1
        )
        JobEvent.objects.create(
            job=job, state=job.state, provider_state=job.provider_state, note=note
        )


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
