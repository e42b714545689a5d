"""Provider notifications as received: what came, for which task, and what became of it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from jobs.models.accounts import Account
from jobs.models.jobs import Job


class Notification(models.Model):
    """One notification a provider sent to an account's receiver (refused ones included).

    Never a source of state: an accepted notification only makes the refresh engine ask
    the provider about the job at once. `digest` (SHA-256 of the body) finds repeats.
    """

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted: job asked now"
        DUPLICATE = "duplicate", "Repeat of a recent one"
        DISCOVERED = "discovered", "Unknown task, now tracked"
        UNKNOWN = "unknown", "Unknown task"
        REFUSED = "refused", "Refused"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    received_at = models.DateTimeField(default=timezone.now)
    task_id = models.CharField(max_length=255, blank=True)
    event = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=255, blank=True)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-received_at"], name="notification_recent"),
            models.Index(fields=["account", "digest"], name="notification_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.event or '?'} {self.task_id or '?'} ({self.outcome})"
