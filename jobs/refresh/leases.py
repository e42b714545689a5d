"""Account leases: who may spend an account's rate budget right now.

Every claim is a compare-and-set (`filter(..., lease_until__lt=now).update(...)`, see
docs/DESIGN.md "Refresh engine"), so two pollers racing for an account cannot both win,
and a lease whose holder died simply runs out. The refresh loop, "Refresh now" and
discovery all take and give back leases through these functions only.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from jobs.models import Account, Job
from jobs.providers import provider_class


def owner_id(purpose: str) -> str:
    """A lease holder's name: what for, on which host and process, and which run of it."""
    host = socket.gethostname()[:60]  # the column holds 100 characters
    return f"{purpose}:{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_until(now: datetime, seconds: float | None = None) -> datetime:
    return now + timedelta(seconds=settings.CLAPBOARD_LEASE_SECONDS if seconds is None else seconds)


def not_backing_off(now: datetime) -> Q:
    return Q(retry_at__isnull=True) | Q(retry_at__lte=now)


def leased_by_others(owner: str, now: datetime) -> Q:
    return Q(lease_until__gte=now) & ~Q(lease_owner=owner)


def account_lease_take(
    *,
    account_id: int,
    owner: str,
    now: datetime | None = None,
    seconds: float | None = None,
    ready: bool = False,
) -> bool:
    """Take (or renew) one account's lease unless someone else holds it; returns whether
    `owner` holds it now. With `ready`, only an enabled account that is not backing off."""
    now = now or timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
    accounts = Account.objects.filter(pk=account_id).filter(free)
    if ready:
        accounts = accounts.filter(not_backing_off(now), enabled=True)
    return bool(accounts.update(lease_owner=owner, lease_until=lease_until(now, seconds)))


def account_leases_renew(
    *, account_ids: Iterable[int], owner: str, seconds: float | None = None
) -> set[int]:
    """Extend the leases `owner` still holds among `account_ids`; returns those."""
    held = set(
        Account.objects.filter(pk__in=list(account_ids), lease_owner=owner).values_list(
            "pk", flat=True
        )
    )
    Account.objects.filter(pk__in=held).update(lease_until=lease_until(timezone.now(), seconds))
    return held


def account_lease_keep(*, account_id: int, owner: str, **values: Any) -> bool:
    """Extend the lease while `owner` still holds it, storing `values` in the same
    update (so nothing is written by a holder that lost the lease); returns whether it did."""
    now = timezone.now()
    return bool(
        Account.objects.filter(pk=account_id, lease_owner=owner).update(
            lease_until=lease_until(now), **values
        )
    )


def account_leases_release(
    *, owner: str, account_id: int | None = None, keep: Iterable[int] = ()
) -> None:
    """Give back `owner`'s lease of one account, or of every account it holds but `keep`."""
    accounts = Account.objects.filter(lease_owner=owner).exclude(pk__in=list(keep))
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    accounts.update(lease_owner="", lease_until=None)


def requests_due(accounts: QuerySet[Account], due: Q) -> dict[int, int]:
    """Requests due per account of `accounts`: its `due` jobs over its provider's batch size.

    Loops split the accounts by this, not by their number (see `RefreshLoop.claim`).
    """
    rows = (
        Job.objects.filter(account__in=accounts)
        .filter(due)
        .order_by()  # the model's ordering would split the groups
        .values_list("account_id", "account__provider")
        .annotate(jobs=Count("pk"))
    )
    return {
        pk: math.ceil(jobs / provider_class(provider).batch_size) for pk, provider, jobs in rows
    }
