"""Alert rules, the notices they produced and the deliveries that carry them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from jobs.crypto import EncryptedJSONField, EncryptedTextField
from jobs.models.accounts import Account, AccountEpisode
from jobs.models.jobs import Job


class AlertRule(models.Model):
    """Who wants to hear about which jobs, and how: one channel per rule."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (JSON, HMAC-signed)"
        WECOM = "wecom", "WeCom robot"
        DINGTALK = "dingtalk", "DingTalk robot"
        FEISHU = "feishu", "Feishu robot"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    # Empty lists mean "any".
    providers = models.JSONField(blank=True, default=list)
    accounts = models.ManyToManyField(Account, blank=True, related_name="alert_rules")
    kinds = models.JSONField(blank=True, default=list)
    # Job events ("failed", "succeeded", "stuck") and account events ("credentials",
    # "unreachable", "rate_limited", "discovery"; recoveries follow on their own).
    events = models.JSONField(default=list)
    stuck_minutes = models.PositiveIntegerField(default=30)
    unreachable_minutes = models.PositiveIntegerField(default=10)
    rate_limited_minutes = models.PositiveIntegerField(default=10)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Email addresses or a webhook URL; encrypted, as robot URLs carry their token.
    target = EncryptedTextField()
    # Webhook signing secret / robot signing secret, encrypted like account credentials.
    secrets = EncryptedJSONField(blank=True, default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Unique per owner, ignoring case: "Failures" and "failures" read as one rule.
            models.UniqueConstraint("owner", Lower("name"), name="alertrule_owner_name")
        ]

    def __str__(self) -> str:
        return self.name


class AlertNotice(models.Model):
    """One alert per rule, job and event, or per rule, account episode and event, ever:
    the unique constraints are the dedup that holds across clusters and restarts."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="notices")
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_notices"
    )
    episode = models.ForeignKey(
        AccountEpisode,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_notices",
    )
    event = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    delivery = models.ForeignKey(
        "AlertDelivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "job", "event"], name="alertnotice_once"),
            models.UniqueConstraint(
                fields=["rule", "episode", "event"], name="alertnotice_episode_once"
            ),
            models.CheckConstraint(
                condition=models.Q(job__isnull=False, episode__isnull=True)
                | models.Q(job__isnull=True, episode__isnull=False),
                name="alertnotice_job_or_episode",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.job_id or f'episode {self.episode_id}'} {self.event}"


class AlertDelivery(models.Model):
    """One message to one channel (a single alert, a digest or a test) and its fate."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=16, default="single")  # single | digest | test
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A delivery worker's claim, so two clusters never send the same message.
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.rule_id}: {self.status}"
