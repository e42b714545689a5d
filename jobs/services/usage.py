"""Counting requests per account and minute, for the accounts health page.

The refresh engine counts in memory and flushes every few seconds, so recording costs
one upsert per account and flush, not one write per request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from jobs.models import AccountUsage


def usage_record(
    *, account_id: int, requests: int, errors: int = 0, at: datetime | None = None
) -> None:
    if not requests and not errors:
        return
    minute = (at or timezone.now()).replace(second=0, microsecond=0)
    updated = AccountUsage.objects.filter(account_id=account_id, minute=minute).update(
        requests=F("requests") + requests, errors=F("errors") + errors
    )
    if updated:
        return
    try:
        with transaction.atomic():
            AccountUsage.objects.create(
                account_id=account_id, minute=minute, requests=requests, errors=errors
            )
    except IntegrityError:  # another loop created the row first
        AccountUsage.objects.filter(account_id=account_id, minute=minute).update(
            requests=F("requests") + requests, errors=F("errors") + errors
        )


def usage_last_hour(now: datetime | None = None) -> dict[int, tuple[int, int]]:
    """{account id: (requests, errors)} over the last 60 minutes."""
    since = (now or timezone.now()) - timedelta(hours=1)
    rows = (
        AccountUsage.objects.filter(minute__gte=since)
        .values("account_id")
        .annotate(requests=Sum("requests"), errors=Sum("errors"))
    )
    return {row["account_id"]: (row["requests"], row["errors"]) for row in rows}
