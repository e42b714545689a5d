"""Appending to the audit log: one entry per operator action, whatever the way in (pages,
API, command line, admin). Workflows call `audit_record` once they know the outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from jobs.models import Account, AuditEntry, AuditJob, Job

Action = AuditEntry.Action
Outcome = AuditEntry.Outcome
Via = AuditEntry.Via


def actor_label(user: Any, via: str) -> str:
    """The name an entry keeps for who acted: the username, else what ran it."""
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.get_username())
    return "command line" if via == Via.CLI else "anonymous"


def audit_record(
    *,
    user: Any,
    via: str,
    action: str,
    outcome: str,
    summary: str,
    account: Account | None = None,
    jobs: Iterable[Job | int] = (),
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry and link it to the jobs it acted on (ids or jobs)."""
    job_ids = list(dict.fromkeys(j if isinstance(j, int) else j.pk for j in jobs))
    actor = actor_label(user, via)
    with transaction.atomic():
        entry = AuditEntry.objects.create(
            user=user if getattr(user, "is_authenticated", False) else None,
            actor=actor[:150],
            via=via,
            action=action,
            outcome=outcome,
            summary=summary[:255],
            account=account,
            job_count=len(job_ids),
            detail=dict(detail or {}),
        )
        AuditJob.objects.bulk_create(
            [AuditJob(entry=entry, job_id=pk) for pk in job_ids], batch_size=1000
        )
    return entry


def audit_settle(*, entry_id: int, outcome: str, summary: str) -> None:
    """Record the outcome of queued work (a refresh) on the entry that requested it."""
    AuditEntry.objects.filter(pk=entry_id).update(outcome=outcome, summary=summary[:255])
