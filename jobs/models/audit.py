"""The audit log: every operator action, appended, never edited from the UI."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.models.accounts import Account
from jobs.models.jobs import Job


class AuditEntry(models.Model):
    """One operator action: who, when, what, on which account and job(s), the outcome.

    `actor` keeps the user's name as it was, so an entry still says who acted after the
    user is renamed or deleted (`user` then becomes null). `detail` holds the action's
    parameters and per-job outcomes; never a secret (credential changes list field names).
    """

    class Action(models.TextChoices):
        TRACK = "track", "Track"
        SUBMIT = "submit", "Submit"
        RESUBMIT = "resubmit", "Resubmit"
        REFRESH = "refresh", "Refresh now"
        STOP_WATCHING = "stop_watching", "Stop watching"
        WATCH_AGAIN = "watch_again", "Watch again"
        CANCEL = "cancel", "Cancel"
        SHARE_CREATE = "share_create", "Share link created"
        SHARE_REVOKE = "share_revoke", "Share link revoked"
        TOKEN_CREATE = "token_create", "API token created"
        TOKEN_REVOKE = "token_revoke", "API token revoked"
        RULE_CREATE = "rule_create", "Alert rule created"
        RULE_CHANGE = "rule_change", "Alert rule changed"
        RULE_DELETE = "rule_delete", "Alert rule deleted"
        ACCOUNT_CREATE = "account_create", "Account added"
        ACCOUNT_CHANGE = "account_change", "Account changed"
        ACCOUNT_DELETE = "account_delete", "Account deleted"
        # One entry per bulk action, whatever it does (`detail["action"]`): see BulkAction.
        BULK = "bulk", "Bulk action"
        # A CSV file of jobs: what it held (a selection, or a filter) and how many rows.
        EXPORT = "export", "Export CSV"

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        REQUESTED = "requested", "Requested"  # queued work whose result comes later
        PARTIAL = "partial", "Partly done"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    class Via(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        CLI = "cli", "Command line"
        ADMIN = "admin", "Admin"

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor = models.CharField(max_length=150)
    via = models.CharField(max_length=8, choices=Via.choices)
    action = models.CharField(max_length=24, choices=Action.choices)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    summary = models.CharField(max_length=255)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job_count = models.PositiveIntegerField(default=0)
    detail = models.JSONField(blank=True, default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_recent"),
            models.Index(fields=["action", "-at"], name="audit_action_recent"),
            models.Index(fields=["user", "-at"], name="audit_user_recent"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"


class AuditJob(models.Model):
    """Which jobs an entry acted on (one row per job, so a job's page finds its entries)."""

    entry = models.ForeignKey(AuditEntry, on_delete=models.CASCADE, related_name="job_links")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="audit_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "entry"], name="auditjob_job_entry")]

    def __str__(self) -> str:
        return f"entry {self.entry_id} on job {self.job_id}"
