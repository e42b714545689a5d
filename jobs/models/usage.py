"""Counters: requests per account and minute, rate-limit windows."""

from __future__ import annotations

from django.db import models

from jobs.models.accounts import Account


class AccountUsage(models.Model):
    """Requests sent for an account, per minute: the health page's "last hour" numbers."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usage")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "minute"], name="usage_account_minute")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.minute:%H:%M} {self.requests}"


class RateCounter(models.Model):
    """Events counted in one fixed window for one key (an API token, a client address):
    the rate limits' shared store when there is no Redis, so every web process counts
    into the same row."""

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
