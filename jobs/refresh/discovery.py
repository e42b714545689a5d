"""Importing jobs created outside Clapboard, for accounts that opt in.

Once a minute (`jobs.tasks.discover_jobs`) every enabled account with `discover` on whose
provider can list its jobs (`Provider.can_discover`: VOD, CI, MetaStudio; IVH and ICE have
no list call) is read page by page from where its last run stopped. The run takes the
account's lease with the refresh engine's compare-and-set, so one poller at a time spends
the account's rate budget; an account a refresh loop holds is tried at the next run.
The unique (account, external_id) constraint is what makes a job impossible to import
twice, whatever runs at the same time; the cursor, saved after every page, saves requests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from jobs import services
from jobs.models import Account, Job
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import JobStatus, Provider, ProviderError
from jobs.refresh.budget import RateBudget
from jobs.refresh.leases import (
    account_lease_keep,
    account_lease_take,
    account_leases_release,
    not_backing_off,
    owner_id,
)
from jobs.services import usage

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the most any of the list calls returns per page
MAX_PAGES = 20


def discovery_run(
    *,
    account_names: Sequence[str] | None = None,
    max_pages: int = MAX_PAGES,
    page_size: int = PAGE_SIZE,
) -> dict[str, int]:
    """Import new jobs for every account with `discover` on; returns {account name: jobs
    imported} for the accounts read this run (not those skipped: off, no list API,
    backing off, or leased by a refresh loop)."""
    now = timezone.now()
    accounts = Account.objects.filter(enabled=True, discover=True).filter(not_backing_off(now))
    if account_names is not None:
        accounts = accounts.filter(name__in=list(account_names))
    imported: dict[str, int] = {}
    for pk, name, provider in accounts.values_list("pk", "name", "provider"):
        if provider not in PROVIDERS or not provider_class(provider).can_discover:
            continue
        count = account_discover(account_id=pk, max_pages=max_pages, page_size=page_size)
        if count is not None:
            imported[name] = count
    return imported


def account_discover(
    *, account_id: int, max_pages: int = MAX_PAGES, page_size: int = PAGE_SIZE
) -> int | None:
    """Read one account's job list from its saved cursor, importing the jobs it does not
    track yet, until the list has no more pages or after `max_pages` requests.

    Returns how many jobs were imported, or None when another poller holds the account.
    After every page the cursor and `discovered_at` are saved, so a crash resumes there.
    A failed request ends the run and is recorded on the account as the refresh engine
    records it (throttling and permanent errors back the account off).
    """
    owner = owner_id("discovery")
    if not account_lease_take(account_id=account_id, owner=owner):
        return None
    try:
        account = Account.objects.get(pk=account_id)
        return discover_pages(
            account=account,
            adapter=account.adapter(),
            budget=RateBudget(account.effective_rate_limit),
            owner=owner,
            max_pages=max_pages,
            page_size=page_size,
        )
    finally:
        account_leases_release(owner=owner, account_id=account_id)


def discover_if_stale(
    account_id: int, adapter: Provider, budget: RateBudget, owner: str, deadline: float | None
) -> None:
    """A refresh loop's discovery: `discover_pages` unless the account ran one within
    the last 55 s (another loop, or this one's last minute)."""
    account = Account.objects.get(pk=account_id)
    ran = account.discovered_at
    if ran is None or timezone.now() - ran > timedelta(seconds=55):
        discover_pages(
            account=account, adapter=adapter, budget=budget, owner=owner, deadline=deadline
        )


def discover_pages(
    *,
    account: Account,
    adapter: Provider,
    budget: RateBudget,
    owner: str,
    max_pages: int = MAX_PAGES,
    page_size: int = PAGE_SIZE,
    deadline: float | None = None,
) -> int:
    """The pages of one discovery run, for a caller that holds the account's lease as
    `owner` and spends from its `budget` (this module, or a refresh loop that already
    holds the account). Returns how many jobs were imported; see `account_discover`.
    The run ends early when the budget has no token before `deadline` (a
    time.monotonic()) or the cluster stops.
    """
    requests = failures = imported = 0
    # The adapter's cursor, plus this module's own counts for the accounts page.
    state = account.discovery_cursor if isinstance(account.discovery_cursor, dict) else {}
    position = state.get("position")
    cursor: Mapping[str, Any] = position if isinstance(position, dict) else {}
    imported_before = _count(state.get("imported"))
    try:
        for _ in range(max_pages):
            if not budget.take(deadline):
                break
            asked_at = timezone.now()
            requests += 1
            try:
                statuses, cursor = adapter.discover(cursor=cursor, limit=page_size)
            except ProviderError as error:
                failures += 1
                _record_failure(account, error)
                break
            except Exception as exc:  # an adapter bug: transient, never a crashed task
                log.error("%s: discovery adapter error %s", account.name, type(exc).__name__)
                failures += 1
                _record_failure(account, ProviderError("internal adapter error", "AdapterError"))
                break
            imported += _import(account_id=account.pk, statuses=statuses, asked_at=asked_at)
            kept = account_lease_keep(
                account_id=account.pk,
                owner=owner,
                discovery_cursor={
                    "position": cursor,
                    "imported": imported_before + imported,
                    "last_run": imported,
                },
                discovered_at=timezone.now(),
            )
            if not kept:
                log.warning("%s: lost its lease during discovery", account.name)
                break
            if not cursor.get("more"):
                break
        if requests and not failures:
            services.account_record_ok(account_id=account.pk, discovery=True)
    finally:
        usage.usage_record(account_id=account.pk, requests=requests, errors=failures)
    return imported


def _import(*, account_id: int, statuses: Sequence[JobStatus], asked_at: datetime) -> int:
    """Track the listed jobs this account does not track yet, each with its listed status;
    returns how many this call created.

    The insert ignores conflicts on (account, external_id), so a job tracked meanwhile by
    hand or by another run stays one job; `tracked_at=asked_at` marks the rows this call
    created, and only those get the listed status applied.
    """
    listed: dict[str, JobStatus] = {}
    for status in statuses:
        if status.external_id and len(status.external_id) <= 255:
            listed.setdefault(status.external_id, status)
    known = set(
        Job.objects.filter(account_id=account_id, external_id__in=list(listed)).values_list(
            "external_id", flat=True
        )
    )
    fresh = [external_id for external_id in listed if external_id not in known]
    if not fresh:
        return 0
    Job.objects.bulk_create(
        [Job(account_id=account_id, external_id=i, tracked_at=asked_at) for i in fresh],
        ignore_conflicts=True,
    )
    created = list(
        Job.objects.filter(
            account_id=account_id, external_id__in=fresh, tracked_at=asked_at, version=0
        ).values_list("pk", "external_id")
    )
    active = []
    for pk, external_id in created:
        status = listed[external_id]
        applied = services.job_apply_status(job_id=pk, status=status, asked_at=asked_at)
        if applied.became_terminal and status.subtitles_url:
            services.job_fetch_subtitles(job_id=pk)
        if not status.state.is_terminal:
            active.append(pk)
    # A list says less than a detail (a VOD summary has no outcome, progress or outputs):
    # the refresh engine polls the imported active jobs right away.
    Job.objects.filter(pk__in=active, next_poll_at__isnull=False).update(
        next_poll_at=timezone.now()
    )
    return len(created)


def _record_failure(account: Account, error: ProviderError) -> None:
    # As the refresh engine: throttling and permanent errors are the account's problem
    # and back it off; a transient one is noted and the next run asks again.
    back_off = error.retry_after is not None or error.permanent
    services.account_record_error(
        account_id=account.pk, error=error, back_off=back_off, discovery=True
    )
    log.warning("%s: discovery failed: %s", account.name, error)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
