"""State listings (Tencent VOD's DescribeTasks): one request pages through the states of
many tasks, so a detail request is sent only where the listing shows a change."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models import Job
from jobs.providers.base import ProviderError
from jobs.refresh.poll import Leased, request_failed
from jobs.refresh.runs import Due

log = logging.getLogger("jobs.refresh")

# How old a listing may be before it is taken again, and how long a running job's detail
# may go unrefreshed when the listing says nothing changed.
LISTING_SECONDS = 5.0
DETAIL_MAX_AGE = timedelta(seconds=60)


@dataclass(frozen=True)
class Listing:
    """One listing pass: the {external id: raw state} of every listed task when complete
    (`states` is None otherwise), taken at `started` (a time.monotonic())."""

    started: float
    requests: int
    states: dict[str, str] | None
    error: ProviderError | None = None
    # Set when the whole account must wait this many seconds (throttled, refused).
    back_off: float | None = None


def listing_take(leased: Leased, *, deadline: float | None = None) -> Listing:
    """Take a complete state listing of the account, page by page within its budget.

    Gives up without a listing when the budget has no token before `deadline` (a
    time.monotonic()) or the cluster stops.
    """
    started = time.monotonic()
    oldest = (
        (
            Job.objects.filter(account_id=leased.account_id)
            .active()
            .aggregate(oldest=Min(Coalesce("created_at", "tracked_at")))["oldest"]
        )
        or timezone.now()
    )
    since = oldest - timedelta(minutes=5)
    if leased.adapter.retention:
        since = max(since, timezone.now() - leased.adapter.retention)
    states: dict[str, str] = {}
    token = ""
    requests = 0
    try:
        while True:
            if not leased.budget.take(deadline):
                return Listing(started, requests, None)
            requests += 1
            page, token = leased.adapter.list_states(since=since, page_token=token)
            states.update(page)
            if not token:
                return Listing(started, requests, states)
    except ProviderError as error:
        log.warning("%s: state listing failed: %s", leased.name, error)
        back_off = None
        if error.retry_after is not None or error.permanent:
            back_off = request_failed(leased, [], error)
        return Listing(started, requests, None, error=error, back_off=back_off)
    except Exception as exc:  # an adapter bug must not stop the account
        log.error("%s: state listing error %s", leased.name, type(exc).__name__)
        return Listing(started, requests, None)


def split_by_listing(due: Iterable[Due], states: Mapping[str, str]) -> tuple[deque[Due], list[Due]]:
    """(the due jobs worth a detail request, those the listing shows unchanged)."""
    stale_before = timezone.now() - DETAIL_MAX_AGE
    ask: deque[Due] = deque()
    unchanged: list[Due] = []
    for job in due:
        detail_is_old = job.state == "running" and (
            job.last_polled_at is None or job.last_polled_at <= stale_before
        )
        if not job.provider_state or states.get(job.external_id) != job.provider_state:
            ask.append(job)
        elif detail_is_old:
            ask.append(job)  # the listing has no progress: refresh it now and then
        else:
            unchanged.append(job)
    return ask, unchanged
