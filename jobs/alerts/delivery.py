"""Sending due deliveries through their rule's channel, retrying with back-off, and
recording every attempt's outcome on the delivery.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from jobs import http, scheduling
from jobs.alerts.channels import CHANNELS, DeliveryFailed, rule_secrets
from jobs.alerts.messages import build_message, rule_test_payload
from jobs.models import AlertDelivery, AlertRule

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
CLAIM_TIME = timedelta(minutes=2)
DELIVER_BATCH = 50
DELIVER_BUDGET = 40.0  # seconds per run: the schedule starts another one every minute
SEND_WORKERS = 8


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


def _send(delivery: AlertDelivery, now: datetime) -> Outcome:
    """One attempt over the rule's channel. Never raises: a broken channel is an outcome."""
    rule = delivery.rule
    secrets = rule_secrets(rule)
    channel = CHANNELS.get(rule.channel)
    if channel is None:
        return Outcome(ok=False, error=f"unknown channel {rule.channel!r}", permanent=True)
    try:
        status = channel(rule, build_message(delivery, now=now), now=now)
    except DeliveryFailed as exc:
        error, result = (
            str(exc),
            Outcome(
                ok=False, status=exc.status, permanent=exc.permanent, retry_after=exc.retry_after
            ),
        )
    except http.Refused as exc:
        error, result = f"refused by the outbound guard: {exc}", Outcome(ok=False, permanent=True)
    except http.OutboundError as exc:
        error, result = str(exc), Outcome(ok=False)
    except Exception as exc:  # noqa: BLE001 - one channel's bug must not stop the others
        log.exception("alert delivery %s crashed", delivery.pk)
        error, result = f"{type(exc).__name__}: {exc}", Outcome(ok=False)
    else:
        return Outcome(ok=True, status=status)
    return Outcome(
        ok=False,
        status=result.status,
        error=http.redact(error, secrets)[:1000],
        permanent=result.permanent,
        retry_after=result.retry_after,
    )


def _record(delivery: AlertDelivery, outcome: Outcome, *, owner: str, now: datetime) -> None:
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "attempts": F("attempts") + 1,
        "response_status": outcome.status,
        "claimed_by": "",
        "claimed_until": None,
    }
    if outcome.ok:
        values.update(
            status=AlertDelivery.Status.SENT, sent_at=now, last_error="", next_attempt_at=None
        )
    else:
        limit = 1 if delivery.kind == "test" else MAX_ATTEMPTS
        final = outcome.permanent or attempts >= limit
        delay = scheduling.error_backoff(attempts, retry_after=outcome.retry_after)
        values.update(
            status=AlertDelivery.Status.FAILED if final else AlertDelivery.Status.PENDING,
            last_error=outcome.error,
            next_attempt_at=None if final else now + timedelta(seconds=delay),
        )
    AlertDelivery.objects.filter(pk=delivery.pk, claimed_by=owner).update(**values)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim(owner: str, now: datetime) -> list[AlertDelivery]:
    """Claim up to a batch of due deliveries (compare-and-set) and return them."""
    due = Q(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    ids = list(
        AlertDelivery.objects.filter(due)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:DELIVER_BATCH]
    )
    if not ids:
        return []
    AlertDelivery.objects.filter(due, pk__in=ids).update(
        claimed_by=owner, claimed_until=now + CLAIM_TIME
    )
    return list(
        AlertDelivery.objects.filter(
            pk__in=ids, claimed_by=owner, status=AlertDelivery.Status.PENDING
        ).select_related("rule")
    )


def _batches(owner: str, now: datetime) -> Iterator[list[AlertDelivery]]:
    deadline = time.monotonic() + DELIVER_BUDGET
    while time.monotonic() < deadline and (batch := _claim(owner, now)):
        yield batch


def alerts_deliver(now: datetime | None = None) -> int:
    """Send due deliveries, retrying failures with exponential back-off up to
    MAX_ATTEMPTS; returns how many attempts were made. Each delivery is claimed before
    it is sent, so concurrent runs never send one twice (a run that dies mid-send lets
    its claim expire, and the message goes out again: at least once)."""
    now = now or timezone.now()
    owner = _owner()
    attempted = 0
    with ThreadPoolExecutor(max_workers=SEND_WORKERS, thread_name_prefix="alerts") as pool:
        for batch in _batches(owner, now):
            sendable = []
            for delivery in batch:
                if delivery.rule.enabled or delivery.kind == "test":
                    sendable.append(delivery)
                else:
                    outcome = Outcome(ok=False, error="the rule was disabled", permanent=True)
                    _record(delivery, outcome, owner=owner, now=now)
            # Sending is I/O: in parallel, so one slow channel does not hold up the rest.
            for delivery, outcome in zip(
                sendable, pool.map(lambda d: _send(d, now), sendable), strict=True
            ):
                _record(delivery, outcome, owner=owner, now=now)
                attempted += 1
    return attempted


def alert_send_test(*, rule: AlertRule, now: datetime | None = None) -> AlertDelivery:
    """Send a test message over the rule's channel right away (one attempt, recorded as
    a `test` delivery) and return the delivery with its outcome."""
    now = now or timezone.now()
    owner = _owner()
    delivery = AlertDelivery.objects.create(
        rule=rule,
        kind="test",
        payload=rule_test_payload(rule, now),
        next_attempt_at=now,
        created_at=now,
        claimed_by=owner,
        claimed_until=now + CLAIM_TIME,
    )
    _record(delivery, _send(delivery, now), owner=owner, now=now)
    delivery.refresh_from_db()
    return delivery
