"""Is what Clapboard shows about a job still true? One answer, for every page.

A job's numbers (state, progress, ETA) are as old as its last successful check. They stop
being current when its checks fail, when its account is paused or disabled, when nobody
watches it any more, or when its next check is overdue (no poller is running, or it is far
behind). Pages show fresh data as it is and stale data greyed, with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from jobs.models import Job

# A check may run this late before it counts as overdue: the refresh loop hands out due
# jobs within about a second, and a new loop starts every minute.
OVERDUE_GRACE = timedelta(seconds=15)


@dataclass(frozen=True)
class Freshness:
    """How current a job's shown data is.

    `stale` is True when the numbers may no longer be true; then `reason` names why, one
    of: "account disabled", "account paused", "account failing", "checks failing",
    "not watched", "overdue" (and `message` carries the provider's error text, if any).
    `checked_at` is when the data was last confirmed, `next_check_at` when Clapboard will
    ask next (an account pause pushes it back), `overdue` whether that time has passed by
    more than OVERDUE_GRACE, and `failed_checks` how many checks in a row failed (of the
    job, or of its account when the account is the problem). Finished jobs are fresh:
    their data is final.
    """

    stale: bool
    reason: str = ""
    message: str = ""
    checked_at: datetime | None = None
    next_check_at: datetime | None = None
    overdue: bool = False
    paused_until: datetime | None = None
    failed_checks: int = 0

    @property
    def about_account(self) -> bool:
        """Whether the fix is on the account (the page links to the accounts page)."""
        return self.reason.startswith("account")

    @property
    def label(self) -> str:
        """The reason in a few words, for a list row or a badge ("" when fresh)."""
        if not self.stale:
            return ""
        if self.reason == "checks failing":
            return f"checks failing ×{self.failed_checks}"
        if self.reason == "account failing":
            return "account checks failing"
        if self.reason == "overdue":
            return "check overdue"
        return self.reason

    @property
    def summary(self) -> str:
        """The reason as one plain sentence (times in UTC), "" when fresh."""
        if not self.stale:
            return ""
        error = f": {self.message}" if self.message else ""
        checks = f"{self.failed_checks} failed check{'s' if self.failed_checks != 1 else ''}"
        if self.reason == "account disabled":
            return "The account is disabled; this job is not checked."
        if self.reason == "account paused":
            return f"The account is paused until {_utc(self.paused_until)} after {checks}{error}"
        if self.reason == "account failing":
            return f"The account's checks are failing ({checks}){error}"
        if self.reason == "checks failing":
            return f"Checks of this job are failing ({checks} in a row){error}"
        if self.reason == "not watched":
            return f"Not checked any more{error}"
        return (
            f"The next check is overdue since {_utc(self.next_check_at)}: no refresh loop has "
            "asked the provider (is the task cluster running?)"
        )

    @property
    def token(self) -> str:
        """Changes whenever anything above does: for "has the page changed?" poll tokens."""
        parts = (
            self.stale,
            self.reason,
            self.message,
            self.overdue,
            self.failed_checks,
            self.paused_until and self.paused_until.timestamp(),
            self.next_check_at and self.next_check_at.timestamp(),
            self.checked_at and self.checked_at.timestamp(),
        )
        return hashlib.blake2s(repr(parts).encode(), digest_size=6).hexdigest()


def _utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S UTC") if value else "—"


def freshness(job: Job, *, now: datetime | None = None) -> Freshness:
    """How current `job`'s data is, from the job and its account (no query when the
    account is already loaded, e.g. with select_related)."""
    now = now or timezone.now()
    checked_at = job.last_polled_at
    if job.is_terminal:
        return Freshness(stale=False, checked_at=checked_at)
    account = job.account
    next_check_at = job.next_poll_at
    paused_until = account.retry_at if account.retry_at and account.retry_at > now else None
    if next_check_at is not None and paused_until is not None:
        next_check_at = max(next_check_at, paused_until)
    overdue = next_check_at is not None and next_check_at + OVERDUE_GRACE < now
    fresh = Freshness(
        stale=False, checked_at=checked_at, next_check_at=next_check_at, overdue=overdue
    )
    account_failed_since_check = (
        account.consecutive_failures > 0
        and account.last_error_at is not None
        and (checked_at is None or account.last_error_at > checked_at)
    )

    def stale(
        reason: str,
        message: str = "",
        failed_checks: int = 0,
        paused_until: datetime | None = None,
    ) -> Freshness:
        return replace(
            fresh,
            stale=True,
            reason=reason,
            message=message,
            failed_checks=failed_checks,
            paused_until=paused_until,
        )

    if not account.enabled:
        return stale("account disabled")
    if job.next_poll_at is None:
        return stale("not watched", job.stopped_reason)
    if paused_until is not None and account_failed_since_check:
        return stale(
            "account paused", account.last_error, account.consecutive_failures, paused_until
        )
    if job.poll_errors:
        return stale("checks failing", job.last_poll_error, job.poll_errors)
    if account_failed_since_check:
        return stale("account failing", account.last_error, account.consecutive_failures)
    if overdue:
        return stale("overdue")
    return fresh
