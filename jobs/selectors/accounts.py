"""Reads about accounts beyond their health row: their notification receivers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from jobs.models import Account, Notification


class NotificationSummary(NamedTuple):
    last_at: datetime | None
    last_hour: int
    refused_last_hour: int


def notification_summaries() -> dict[int, NotificationSummary]:
    """{account id: its receiver's last notification and last hour}: per account, a walk
    of the notification_recent index (accounts are few, notifications many)."""
    mine = Notification.objects.filter(account=OuterRef("pk"))
    hour = mine.filter(received_at__gte=timezone.now() - timedelta(hours=1))

    def count(rows: QuerySet[Notification]) -> Subquery:
        return Subquery(rows.values("account").annotate(n=Count("id")).values("n"))

    rows = Account.objects.annotate(
        last_at=Subquery(mine.order_by("-received_at").values("received_at")[:1]),
        last_hour=count(hour),
        refused=count(hour.filter(outcome=Notification.Outcome.REFUSED)),
    ).values_list("pk", "last_at", "last_hour", "refused")
    return {pk: NotificationSummary(at, n or 0, r or 0) for pk, at, n, r in rows}
