"""What the account health page shows of each account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from jobs.models import Account
from jobs.selectors import NotificationSummary


@dataclass
class AccountHealth:
    account: Account
    by_state: dict[str, int]
    usage: tuple[int, int] | None
    notified: NotificationSummary | None = None

    @property
    def requests_last_hour(self) -> int:
        return self.usage[0] if self.usage else 0

    @property
    def errors_last_hour(self) -> int:
        return self.usage[1] if self.usage else 0

    @property
    def budget_last_hour(self) -> int:
        return int(self.account.effective_rate_limit * 3600)

    @property
    def budget_used_percent(self) -> float:
        return min(100.0, 100 * self.requests_last_hour / max(1, self.budget_last_hour))

    @property
    def poll_lag(self) -> timedelta | None:
        oldest = getattr(self.account, "oldest_poll", None)
        return timezone.now() - oldest if oldest else None

    @property
    def discovery(self) -> str:
        return "lists tasks" if self.account.adapter_class.lists_states else ""

    @property
    def status(self) -> str:
        """disabled, paused (backing off after failures), failing, unverified (no call has
        ever succeeded: a new account is not "OK" until one has) or ok."""
        account = self.account
        if not account.enabled:
            return "disabled"
        if account.retry_at and account.retry_at > timezone.now():
            return "paused"
        if account.consecutive_failures:
            return "failing"
        if account.last_ok_at is None:
            return "unverified"
        return "ok"
