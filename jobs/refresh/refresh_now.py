"""Refresh now: one job polled on an operator's request, within the engine's rules."""

from __future__ import annotations

from datetime import UTC

from django.utils import timezone

from jobs import services
from jobs.models import Account, Job
from jobs.refresh.leases import account_lease_take, account_leases_release, owner_id
from jobs.refresh.poll import Leased, poll_counted
from jobs.services.audit import Outcome, audit_settle


def job_refresh_now(*, job_id: int, audit_id: int | None = None) -> str:
    """Poll one job right away, within its account's single-poller rule, and put the
    outcome on the job's timeline (returned as well).

    If no loop holds the account, take its lease briefly and poll; otherwise mark the
    job due now so the loop that holds the account polls it within a second. A paused or
    disabled account is not asked at all, and the outcome says why. The outcome also
    settles the audit entry `audit_id` that recorded the request.
    """
    job = Job.objects.select_related("account").get(pk=job_id)
    if job.is_terminal:
        outcome = "Refresh not sent: the job had already finished."
    else:
        outcome = _refresh_now(job)
        services.job_record_refresh(job_id=job.pk, outcome=outcome)
    if audit_id is not None:
        audit_settle(entry_id=audit_id, outcome=_audit_outcome(outcome), summary=outcome)
    return outcome


def _audit_outcome(outcome: str) -> str:
    if outcome.startswith("Refreshed"):
        return Outcome.DONE
    if outcome.startswith("Refresh failed"):
        return Outcome.FAILED
    if outcome.startswith("Refresh not sent"):
        return Outcome.REFUSED
    return Outcome.REQUESTED  # handed to the loop that holds the account


def _refresh_now(job: Job) -> str:
    now = timezone.now()
    owner = owner_id("refresh-now")
    if not account_lease_take(account_id=job.account_id, owner=owner, now=now, ready=True):
        account = Account.objects.only("enabled", "retry_at", "last_error").get(pk=job.account_id)
        if not account.enabled:
            return "Refresh not sent: the account is disabled."
        if account.retry_at and account.retry_at > now:
            until = account.retry_at.astimezone(UTC).strftime("%H:%M:%S UTC")
            return f"Refresh not sent: the account is paused until {until} ({account.last_error})"
        Job.objects.filter(pk=job.pk, next_poll_at__isnull=False).update(next_poll_at=now)
        return "Refresh handed to the poller that holds the account; it asks within seconds."
    try:
        polled = poll_counted(Leased.of(job.account, owner=owner), {job.external_id: job.pk})
    finally:
        account_leases_release(owner=owner, account_id=job.account_id)
    after = (
        Job.objects.select_related("account")
        .only("poll_errors", "last_poll_error", "account__last_error")
        .get(pk=job.pk)
    )
    # A per-job error leaves its mark on the job; an account-wide one (throttled, a
    # rejected signature) on the account.
    if after.poll_errors:
        return f"Refresh failed: {after.last_poll_error}"
    if polled.error is not None:
        return f"Refresh failed: {after.account.last_error}"
    return "Refreshed: " + ("the job changed." if polled.changed else "no change.")
