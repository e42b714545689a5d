"""Accounts: creating one from validated settings, and recording its health (a failed
or a good request, "Test connection").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import http, scheduling
from jobs.models import Account, AccountEpisode, http_url
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import ProviderError, SchemaField
from jobs.services.episodes import (
    account_episode_start,
    account_episodes_end,
    jobs_start_failing,
)
from jobs.services.errors import InvalidInput

logger = logging.getLogger(__name__)


def account_create(
    *,
    name: str,
    provider: str,
    credentials: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    region: str = "",
    endpoint: str = "",
    rate_limit: float | None = None,
) -> Account:
    """Create an account after validating everything; nothing is saved on error.

    Raises InvalidInput naming the bad field (never echoing a secret value).
    """
    name = name.strip()
    if not name:
        raise InvalidInput("the account name is empty")
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown provider {provider!r} (one of: {', '.join(PROVIDERS)})")
    if endpoint:
        try:
            http_url(endpoint)
        except ValidationError:
            raise InvalidInput(f"endpoint must be an http(s) URL, not {endpoint!r}") from None
        problem = http.endpoint_refusal(
            endpoint, allow_private=settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS
        )
        if problem:
            raise InvalidInput(problem)
    if rate_limit is not None and rate_limit <= 0:
        raise InvalidInput("rate limit must be a positive number of requests per second")
    clean_credentials, clean_options = account_settings_clean(
        provider=provider, credentials=credentials, options=options or {}
    )
    try:
        with transaction.atomic():
            return Account.objects.create(
                name=name,
                provider=provider,
                region=region.strip(),
                endpoint=endpoint.strip(),
                credentials=clean_credentials,
                options=clean_options,
                rate_limit=rate_limit,
            )
    except IntegrityError:
        raise InvalidInput(f"an account named {name!r} already exists") from None


def account_settings_clean(
    *, provider: str, credentials: Mapping[str, Any], options: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """An account's credentials and options under Clapboard's names, validated.

    Each value may come under any name its provider documents for it (Huawei's `ak`,
    Tencent's `SecretId`, Alibaba's `AccessKeyId`: `SchemaField.aliases`), in any case,
    with or without separators. Raises InvalidInput naming the bad or repeated field,
    never echoing a secret value.
    """
    schema = provider_class(provider)
    try:
        return schema.validate_settings(
            _canonical_names(credentials, schema.credential_fields, "credential"),
            _canonical_names(options, schema.option_fields, "option"),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _fold(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).lower()


def _canonical_names(data: Any, fields: Iterable[SchemaField], kind: str) -> Any:
    if not isinstance(data, Mapping):
        return data  # validate_settings says what is wrong with it
    names = {_fold(spelling): f.name for f in fields for spelling in (f.name, *f.aliases)}
    given: dict[str, str] = {}
    result: dict[str, Any] = {}
    for key, value in data.items():
        folded = _fold(str(key))
        name = names[folded] if folded in names else key
        if name in result:
            raise InvalidInput(
                f"{kind} {name!r} is given twice (as {given[name]!r} and {str(key)!r})"
            )
        given[name], result[name] = str(key), value
    return result


def account_record_error(
    *,
    account_id: int,
    error: ProviderError,
    back_off: bool = True,
    discovery: bool = False,
    now: datetime | None = None,
) -> float:
    """A request of this account failed: record it, open the account's episode of this
    kind of failure (`discovery`: a discovery run's), and unless `back_off` is False push
    the account's next poll back. Returns the delay in seconds.

    Auth failures wait at least five minutes: Huawei locks a key after five bad signatures.
    """
    now = now or timezone.now()
    account = Account.objects.only("consecutive_failures").get(pk=account_id)
    failures = account.consecutive_failures + 1
    delay = scheduling.error_backoff(failures, retry_after=error.retry_after)
    if error.permanent:
        delay = max(delay, 300.0)
    update: dict[str, Any] = {
        "last_error": str(error)[:1000],
        "last_error_at": now,
        "consecutive_failures": failures,
    }
    if back_off:
        update["retry_at"] = now + timedelta(seconds=delay)
    with transaction.atomic():
        Account.objects.filter(pk=account_id).update(**update)
        account_episode_start(
            account_id=account_id,
            kind=AccountEpisode.Kind.DISCOVERY if discovery else episode_kind(error),
            now=now,
        )
        if back_off and (error.permanent or delay >= ACCOUNT_OUTAGE_SECONDS):
            until = update["retry_at"].astimezone(UTC).strftime("%H:%M:%S UTC")
            jobs_start_failing(
                account_id=account_id,
                message=f"account paused until {until}: {error}"[:500],
                now=now,
            )
    return delay if back_off else 0.0


# A pause shorter than this (a throttled burst) is rate control, not an outage: it does
# not go into the timelines of the account's jobs.
ACCOUNT_OUTAGE_SECONDS = 60.0


def episode_kind(error: ProviderError) -> str:
    """Which account episode a failed request belongs to: permanent errors are refused
    credentials (401/403, the providers' auth codes, a refused endpoint), throttling
    carries a Retry-After, anything else is the provider not answering."""
    if error.permanent:
        return AccountEpisode.Kind.CREDENTIALS
    if error.retry_after is not None:
        return AccountEpisode.Kind.RATE_LIMITED
    return AccountEpisode.Kind.UNREACHABLE


def account_record_ok(
    *, account_id: int, discovery: bool = False, now: datetime | None = None
) -> None:
    """A good answer: the account is healthy again, and its open episodes end (a
    discovery episode only when `discovery`: the answer was a discovery run's)."""
    now = now or timezone.now()
    Account.objects.filter(pk=account_id).update(
        last_ok_at=now, consecutive_failures=0, retry_at=None
    )
    account_episodes_end(account_id=account_id, now=now, discovery=discovery)


def account_request_failed(*, account_id: int, error: ProviderError) -> bool:
    """Record a failed request made outside the refresh loop (Track, Test connection) as
    the loop records one. Returns whether the account now waits (credentials, throttling)."""
    back_off = error.permanent or error.retry_after is not None
    account_record_error(account_id=account_id, error=error, back_off=back_off)
    return back_off


def account_check(*, account_id: int) -> ProviderError | None:
    """Make the provider's cheapest signed call for this account ("Test connection").

    The outcome is recorded like a poll's: success sets `last_ok_at` and lifts a pause,
    failure counts as an account failure. Returns the error, or None when it works.
    """
    account = Account.objects.get(pk=account_id)
    try:
        account.adapter().check_credentials()
    except ProviderError as error:
        account_request_failed(account_id=account_id, error=error)
        return error
    except Exception as exc:  # an adapter bug must not become a 500 on the admin page
        logger.error("%s: adapter error %s in check_credentials", account.name, type(exc).__name__)
        adapter_error = ProviderError("internal adapter error", "AdapterError")
        account_request_failed(account_id=account_id, error=adapter_error)
        return adapter_error
    account_record_ok(account_id=account_id)
    return None
