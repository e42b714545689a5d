"""Provider accounts: one set of credentials for one provider API."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from jobs import http
from jobs.crypto import EncryptedJSONField
from jobs.providers import PROVIDERS, provider_choices, provider_class
from jobs.providers.base import Provider

http_url = URLValidator(schemes=["http", "https"])


# The events backlog (jobs/refresh/events.py, asked every minute) is stale after this.
BACKLOG_STALE_AFTER = timedelta(minutes=5)


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
    # The notification receiver's URL secret (POST /hooks/<code>/<secret>/), kept only as
    # its SHA-256; empty: the account has no receiver.
    hook_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    hook_secret_at = models.DateTimeField(null=True, blank=True, editable=False)
    # VOD's reliable events (option events=pull): how many VOD held unpulled when the
    # puller last asked (DescribeEventsState), and when; None until it has asked.
    events_backlog = models.PositiveIntegerField(null=True, blank=True, editable=False)
    events_backlog_at = models.DateTimeField(null=True, blank=True, editable=False)
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
    def events_backlog_stale(self) -> bool:
        """Whether the stored backlog is too old to go by: a puller asks every minute
        while it holds the account, so five minutes means none has for a while."""
        at = self.events_backlog_at
        return at is not None and timezone.now() - at > BACKLOG_STALE_AFTER

    @property
    def masked_id(self) -> str:
        """The account's public identifier (AppKey, SecretId, AK...), mostly hidden."""
        for field in self.adapter_class.credential_fields:
            value = str(self.credentials.get(field.name, ""))
            if not field.secret and value:
                return mask(value)
        return "••••" if self.credentials else "—"


class AccountEpisode(models.Model):
    """A stretch of bad health of one account, of one kind: opened by the first failure
    of its kind, closed by the first good answer after it (never a row per failed
    request). Alert rules are told once per episode and event (`AlertNotice.episode`)."""

    class Kind(models.TextChoices):
        CREDENTIALS = "credentials", "Credentials rejected"
        UNREACHABLE = "unreachable", "Provider unreachable"
        RATE_LIMITED = "rate_limited", "Rate-limited"
        DISCOVERY = "discovery", "Discovery failing"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="episodes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One open episode per account and kind, whatever writes at the same time.
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=models.Q(ended_at__isnull=True),
                name="accountepisode_one_open",
            )
        ]
        indexes = [models.Index(fields=["ended_at"], name="accountepisode_ended")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} since {self.started_at:%Y-%m-%d %H:%M}"


def mask(value: str) -> str:
    if len(value) <= 8:
        return value[:2] + "••••"
    return f"{value[:4]}••••{value[-4:]}"
