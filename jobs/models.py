from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from jobs import http
from jobs.crypto import EncryptedJSONField, EncryptedTextField
from jobs.providers import PROVIDERS, provider_choices, provider_class
from jobs.providers.base import TERMINAL_STATES, Provider, State

http_url = URLValidator(schemes=["http", "https"])
STATE_CHOICES = [(state.value, state.value.capitalize()) for state in State]


class Account(models.Model):
    """One set of credentials for one provider API."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=40, choices=provider_choices)
    region = models.CharField(max_length=64, blank=True)
    endpoint = models.CharField(
        max_length=300,
        blank=True,
        validators=[http_url],
        help_text="Optional base URL override (gateway, proxy, simulator): scheme, host, port.",
    )
    credentials = EncryptedJSONField(blank=True, default=dict)
    options = models.JSONField(blank=True, default=dict)
    enabled = models.BooleanField(default=True)
    rate_limit = models.FloatField(
        null=True, blank=True, help_text="Requests per second; empty uses the provider default."
    )
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Not polled before this time: throttling or account-level errors back off here.
    retry_at = models.DateTimeField(null=True, blank=True)
    # The refresh loop that currently polls this account; expires on its own.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Import jobs created outside Clapboard (where the provider can list them).
    discover = models.BooleanField(
        default=False, help_text="Import jobs created outside Clapboard (VOD, CI, MetaStudio)."
    )
    # Where the last import run stopped: provider-specific cursor (time window, page token).
    discovery_cursor = models.JSONField(blank=True, default=dict)
    discovered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # "Test connection" and every poll send signed requests to the endpoint: it must
        # not point at a metadata service, an internal port or carry a password.
        if self.endpoint:
            problem = http.endpoint_refusal(
                self.endpoint, allow_private=settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS
            )
            if problem:
                raise ValidationError({"endpoint": f"{problem[0].upper()}{problem[1:]}."})

    @property
    def provider_label(self) -> str:
        return PROVIDERS[self.provider][0] if self.provider in PROVIDERS else self.provider

    @property
    def adapter_class(self) -> type[Provider]:
        return provider_class(self.provider)

    def adapter(self) -> Provider:
        return self.adapter_class.for_account(self)

    @property
    def effective_rate_limit(self) -> float:
        return self.rate_limit or self.adapter_class.default_rate_limit

    @property
    def masked_id(self) -> str:
        """The account's public identifier (AppKey, SecretId, AK...), mostly hidden."""
        for field in self.adapter_class.credential_fields:
            value = str(self.credentials.get(field.name, ""))
            if not field.secret and value:
                return mask(value)
        return "••••" if self.credentials else "—"


def mask(value: str) -> str:
    if len(value) <= 8:
        return value[:2] + "••••"
    return f"{value[:4]}••••{value[-4:]}"


class JobQuerySet(models.QuerySet):
    def active(self) -> JobQuerySet:
        return self.exclude(state__in=TERMINAL_STATES)


class Job(models.Model):
    """One provider task as last seen, plus what the poller needs to schedule it."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="jobs")
    external_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default=State.UNKNOWN.value)
    provider_state = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=128, blank=True)
    failure_message = models.TextField(blank=True)
    media_url = models.TextField(blank=True)
    subtitles_url = models.TextField(blank=True)
    cover_url = models.TextField(blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    tracked_at = models.DateTimeField(default=timezone.now)
    words = models.JSONField(blank=True, default=list)
    subtitles = models.TextField(blank=True)
    subtitles_error = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(blank=True, default=dict)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # Null means "not scheduled": terminal, stopped, or given up on.
    next_poll_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    poll_errors = models.PositiveIntegerField(default=0)
    last_poll_error = models.TextField(blank=True)
    # Why polling stopped before the job finished (retention, not found, an operator).
    stopped_reason = models.CharField(max_length=255, blank=True)
    version = models.PositiveIntegerField(default=0)

    objects = JobQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], name="job_account_external_id"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_poll_at"], name="job_due", condition=Q(next_poll_at__isnull=False)
            ),
            models.Index(fields=["-tracked_at", "-id"], name="job_recent"),
            models.Index(fields=["state", "-tracked_at", "-id"], name="job_state_recent"),
            models.Index(fields=["account", "state"], name="job_account_state"),
            # A provider's typical run time (the job page of jobs without progress): the
            # newest succeeded jobs of one account and kind, without reading the rest.
            models.Index(
                fields=["account", "kind", "-finished_at"],
                name="job_recent_succeeded",
                condition=Q(state="succeeded", finished_at__isnull=False),
            ),
            # The list's Kind choices walk it one kind at a time (jobs.selectors.KINDS_SQL).
            models.Index(fields=["kind"], name="job_kind"),
        ]
        permissions = [("operate_job", "Can track, refresh and share jobs")]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def display_name(self) -> str:
        return self.name or self.external_id


class JobEvent(models.Model):
    """A visible change of a job: its history, and the source of ETA estimates.

    Most events are status changes (`kind` empty). The others are about Clapboard's view of
    the job, not the job itself: checks starting to fail, checks answered again, and the
    outcome of an operator's "Refresh now".
    """

    class Kind(models.TextChoices):
        STATUS = "", "Status"
        FAILING = "failing", "Checks failing"
        RECOVERED = "recovered", "Checks recovered"
        REFRESH = "refresh", "Refresh now"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=STATE_CHOICES)
    provider_state = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=128, blank=True)
    failure_message = models.TextField(blank=True)
    note = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["job", "at"], name="jobevent_job_at")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.state} at {self.at:%Y-%m-%d %H:%M:%S}"


class ShareLink(models.Model):
    """Read-only access to one job for people without an account.

    Only a hash of the token is stored; the token itself is shown once.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"share link for {self.job}"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


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


class JobStateCount(models.Model):
    """How many jobs each account has in each state, for the list's tabs.

    Database triggers (migration 0003) keep it exact on every insert, update and delete of
    a job — whatever code path, bulk or raw — so the tabs never count the jobs table.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="state_counts")
    state = models.CharField(max_length=16, choices=STATE_CHOICES)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "state"], name="statecount_account_state")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.state}: {self.count}"


# --- discovery, alerts and the API (issue: beyond watching) -------------------------------


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
    # Any of "failed", "succeeded", "stuck".
    events = models.JSONField(default=list)
    stuck_minutes = models.PositiveIntegerField(default=30)
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
    """One alert per rule, job and event, ever: the unique constraint is the dedup that
    holds across clusters and restarts."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="notices")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="alert_notices")
    event = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    delivery = models.ForeignKey(
        "AlertDelivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "job", "event"], name="alertnotice_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.job_id} {self.event}"


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


class ApiToken(models.Model):
    """A personal API token; only its hash is stored and the token is shown once."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class RateCounter(models.Model):
    """Events counted in one fixed window for one key (an API token, a client address):
    the rate limits' shared store when there is no Redis, so every web process counts
    into the same row."""

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


# --- tracking pastes (the Track page) ------------------------------------------------------


class TrackBatch(models.Model):
    """One paste of task IDs on the Track page. Its new jobs start unverified; the refresh
    engine checks each on its first poll, within the account's rate budget, and records
    the outcome on the batch's items (see services.track_batch_create)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="track_batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"track batch {self.code}"


class TrackItem(models.Model):
    """One pasted ID of a batch, in paste order, and what became of it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "checking"
        TRACKED = "tracked", "tracked"
        ALREADY = "already tracked", "already tracked"
        NOT_FOUND = "not found", "not found"
        ERROR = "error", "could not be checked"
        ANYWAY = "tracked anyway", "tracked anyway"

    batch = models.ForeignKey(TrackBatch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    external_id = models.CharField(max_length=255)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="track_items"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="trackitem_position")
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.outcome}"
