"""The Audit page's and API's reads: entries by filter, newest first, in keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from django.db.models import OuterRef, Q, QuerySet, Subquery

from jobs.models import AuditEntry, AuditJob, Job


class AuditFilters(TypedDict, total=False):
    actor: str
    action: str
    since: datetime | None
    job: Job | None


def audit_entries(filters: AuditFilters) -> QuerySet[AuditEntry]:
    """Audit entries matching `filters`, newest first (the `audit_recent` index), each
    with its first job's code and name (`first_job_code`, `first_job_name`): a bulk
    entry's thousands of links are not read for one line."""
    first = AuditJob.objects.filter(entry=OuterRef("pk")).order_by("id")
    entries = (
        AuditEntry.objects.select_related("account")
        .defer("account__credentials")
        .annotate(
            first_job_code=Subquery(first.values("job__code")[:1]),
            first_job_name=Subquery(first.values("job__name")[:1]),
            first_job_external_id=Subquery(first.values("job__external_id")[:1]),
        )
    )
    if job := filters.get("job"):
        entries = entries.filter(job_links__job=job)
    if filters.get("actor"):
        entries = entries.filter(actor=filters["actor"])
    if filters.get("action"):
        entries = entries.filter(action=filters["action"])
    if since := filters.get("since"):
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows. A time
        # whose UTC falls off the calendar is before or after every entry.
        try:
            entries = entries.filter(at__gte=since.astimezone(UTC))
        except OverflowError:
            entries = entries.none() if since.year == datetime.max.year else entries
    return entries.order_by("-at", "-id")


def audit_page(
    filters: AuditFilters, *, after: tuple[datetime, int] | None, size: int
) -> tuple[list[AuditEntry], bool]:
    """One keyset page of `audit_entries` after (at, id) `after`, and whether more follow."""
    entries = audit_entries(filters)
    if after:
        at, pk = after
        entries = entries.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    page = list(entries[: size + 1])
    return page[:size], len(page) > size
