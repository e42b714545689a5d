"""Failure, success and stuck-job alerts: find what is worth telling, then tell it.

`alerts_scan` reads the job history (JobEvent) and the active jobs, never the refresh
engine's state: any number of clusters may run it at once. The AlertNotice unique
constraint (rule, job, event) is the dedup, so a job alerts once per event and rule, ever,
across restarts. New notices become deliveries: one per notice, or one digest when a rule
has many at once. `alerts_deliver` sends due deliveries through the rule's channel
(email, signed JSON webhook, WeCom / DingTalk / Feishu robots), retrying with back-off,
and records every attempt's outcome on the delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import smtplib
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from jobs import http, scheduling
from jobs.models import AlertDelivery, AlertNotice, AlertRule, Job, JobEvent
from jobs.providers.base import State

log = logging.getLogger(__name__)

EVENTS = {
    "failed": "Failed",
    "succeeded": "Succeeded",
    "stuck": "Stuck (no progress or queue movement)",
}
TERMINAL_EVENTS = ("failed", "succeeded")
# States in which a polled job is expected to move; paused jobs are paused on purpose.
STUCK_STATES = (State.QUEUED, State.RUNNING, State.UNKNOWN)

# Terminal events are looked for this far back, so a scan that did not run for a while
# (deploy, outage) still alerts; the unique constraint makes rescanning harmless.
LOOKBACK = timedelta(hours=1)
# Event ids and times are not strictly in the same order (concurrent transactions, hosts'
# clocks): keep reading older ids this much past the window.
CLOCK_SKEW = timedelta(minutes=5)
EVENT_CHUNK = 2000
NOTICES_PER_RULE = 10_000  # per scan; the rest waits for the next minute

DIGEST_THRESHOLD = 10  # more new notices than this for one rule in one scan → one digest
DIGEST_EXAMPLES = 10
MESSAGE_CHARS = 200  # of a provider's failure message in an alert

MAX_ATTEMPTS = 6
CLAIM_TIME = timedelta(minutes=2)
DELIVER_BATCH = 50
DELIVER_BUDGET = 40.0  # seconds per run: the schedule starts another one every minute
SEND_WORKERS = 8
SEND_TIMEOUT = (5.0, 10.0)
ANSWER_MAX_BYTES = 64 * 1024
RETRYABLE_4XX = frozenset({408, 425, 429})

SIGNATURE_HEADER = "X-Clapboard-Signature"
TIMESTAMP_HEADER = "X-Clapboard-Timestamp"


# --- scanning ------------------------------------------------------------------------


def alerts_scan(now: datetime | None = None) -> int:
    """Record new notices for every enabled rule and queue their deliveries.

    Returns how many deliveries were created. Safe to run concurrently and repeatedly:
    a notice exists once per (rule, job, event) and is linked to one delivery only.
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(enabled=True).prefetch_related("accounts"))
    if not rules:
        return 0
    _notice_terminal_events(rules, now)
    for rule in rules:
        if "stuck" in rule.events:
            _notice_stuck_jobs(rule, now)
    return sum(_queue_deliveries(rule, now) for rule in rules)


def _account_ids(rule: AlertRule) -> set[int]:
    return {account.pk for account in rule.accounts.all()}


def _rule_matches(rule: AlertRule, job: Job, account_ids: set[int]) -> bool:
    return (
        (not rule.providers or job.account.provider in rule.providers)
        and (not account_ids or job.account_id in account_ids)
        and (not rule.kinds or job.kind in rule.kinds)
    )


def _rule_jobs(rule: AlertRule, account_ids: set[int]) -> Q:
    """The rule's provider/account/kind filters as a Job query (empty filters: any)."""
    q = Q()
    if rule.providers:
        q &= Q(account__provider__in=rule.providers)
    if account_ids:
        q &= Q(account_id__in=account_ids)
    if rule.kinds:
        q &= Q(kind__in=rule.kinds)
    return q


def _recent_terminal_events(
    since: datetime, states: Iterable[str]
) -> dict[tuple[int, str], datetime]:
    """(job id, state) → when it happened, for terminal events since `since`.

    Walks the event table backwards by primary key (an index every database has), so a
    scan reads the last hour's events, not the whole history.
    """
    wanted = set(states)
    found: dict[tuple[int, str], datetime] = {}
    upper = JobEvent.objects.aggregate(n=Max("id"))["n"]
    while upper is not None:
        rows = list(
            JobEvent.objects.filter(pk__lte=upper)
            .order_by("-pk")
            .values_list("pk", "job_id", "state", "at")[:EVENT_CHUNK]
        )
        for _, job_id, state, at in rows:
            if state in wanted and at >= since:
                key = (job_id, state)
                found[key] = min(at, found.get(key, at))
        if len(rows) < EVENT_CHUNK or max(row[3] for row in rows) < since - CLOCK_SKEW:
            break
        upper = rows[-1][0] - 1
    return found


def _notice_terminal_events(rules: list[AlertRule], now: datetime) -> None:
    interested = [r for r in rules if any(e in r.events for e in TERMINAL_EVENTS)]
    if not interested:
        return
    # A new rule does not alert about what happened before it existed.
    since = max(now - LOOKBACK, min(rule.created_at for rule in interested))
    states = {e for r in interested for e in r.events if e in TERMINAL_EVENTS}
    events = _recent_terminal_events(since, states)
    if not events:
        return
    job_ids = sorted({job_id for job_id, _ in events})
    account_ids = {rule.pk: _account_ids(rule) for rule in interested}
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start : start + 500]
        jobs = (
            Job.objects.filter(pk__in=chunk)
            .select_related("account")
            .only("id", "state", "kind", "account__id", "account__provider")
        )
        existing = set(
            AlertNotice.objects.filter(
                rule__in=interested, job_id__in=chunk, event__in=TERMINAL_EVENTS
            ).values_list("rule_id", "job_id", "event")
        )
        # Terminal states are final: the event that counts is the one the job ended in.
        ended = [job for job in jobs if (job.pk, job.state) in events]
        # In the order things happened: a digest's examples are the first failures.
        ended.sort(key=lambda job: (events[job.pk, job.state], job.pk))
        new = [
            AlertNotice(rule=rule, job=job, event=job.state, created_at=now)
            for job in ended
            for rule in interested
            if job.state in rule.events
            and events[job.pk, job.state] >= rule.created_at
            and (rule.pk, job.pk, job.state) not in existing
            and _rule_matches(rule, job, account_ids[rule.pk])
        ]
        AlertNotice.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)


def _notice_stuck_jobs(rule: AlertRule, now: datetime) -> None:
    """Notice active, still polled jobs that have not moved for the rule's minutes."""
    # Only status changes say a job moved; failing checks and refreshes do not.
    last_event = (
        JobEvent.objects.filter(job=OuterRef("pk"), kind=JobEvent.Kind.STATUS)
        .order_by("-at", "-id")
        .values("at")
    )
    noticed = AlertNotice.objects.filter(rule=rule, job=OuterRef("pk"), event="stuck")
    stuck = (
        Job.objects.filter(state__in=STUCK_STATES, next_poll_at__isnull=False)
        .filter(_rule_jobs(rule, _account_ids(rule)))
        .annotate(last_moved=Coalesce(Subquery(last_event[:1]), F("tracked_at")))
        .filter(last_moved__lt=now - timedelta(minutes=rule.stuck_minutes))
        .exclude(Exists(noticed))
        .order_by("last_moved")
        .values_list("pk", flat=True)[:NOTICES_PER_RULE]
    )
    AlertNotice.objects.bulk_create(
        [AlertNotice(rule=rule, job_id=job_id, event="stuck", created_at=now) for job_id in stuck],
        ignore_conflicts=True,
        batch_size=500,
    )


def _queue_deliveries(rule: AlertRule, now: datetime) -> int:
    """Turn the rule's notices that have no delivery yet into deliveries; returns how many.

    One transaction: on PostgreSQL the notices are locked (others skip them), on SQLite
    the transaction holds the write lock, and the link itself is a compare-and-set, so
    no notice ever ends up in two deliveries.
    """
    if not AlertNotice.objects.filter(rule=rule, delivery__isnull=True).exists():
        return 0
    with transaction.atomic():
        ids = list(
            AlertNotice.objects.select_for_update(skip_locked=True)
            .filter(rule=rule, delivery__isnull=True)
            .order_by("id")
            .values_list("pk", flat=True)[:NOTICES_PER_RULE]
        )
        notices = list(
            AlertNotice.objects.filter(pk__in=ids, delivery__isnull=True)
            .select_related("job__account")
            .order_by("id")
        )
        if not notices:
            return 0
        groups = [notices] if len(notices) > DIGEST_THRESHOLD else [[n] for n in notices]
        created = 0
        for group in groups:
            digest = len(group) > 1
            delivery = AlertDelivery.objects.create(
                rule=rule,
                kind="digest" if digest else "single",
                payload=_alert_payload(rule, group, now, digest=digest),
                next_attempt_at=now,
                created_at=now,
            )
            linked = AlertNotice.objects.filter(
                pk__in=[n.pk for n in group], delivery__isnull=True
            ).update(delivery=delivery)
            if linked != len(group):
                # Someone else linked some of them in between: ours must not go out.
                transaction.set_rollback(True)
                return 0
            created += 1
    return created


# --- what a message says -------------------------------------------------------------


def _absolute(path: str) -> str:
    base = getattr(settings, "CLAPBOARD_BASE_URL", "") or ""
    return base.rstrip("/") + path if base else path


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _job_facts(notice: AlertNotice) -> dict[str, Any]:
    job = notice.job
    return {
        "event": notice.event,
        "code": str(job.code),
        "external_id": job.external_id,
        "name": job.name,
        "kind": job.kind,
        "provider": job.account.provider,
        "provider_label": job.account.provider_label,
        "account": job.account.name,
        "state": job.state,
        "failure_code": job.failure_code,
        "failure_message": _one_line(job.failure_message, MESSAGE_CHARS),
        "url": _absolute(reverse("job-detail", args=[job.code])),
    }


def _list_url(rule: AlertRule, events: set[str]) -> str:
    params: dict[str, str] = {}
    if len(events) == 1 and (event := next(iter(events))) in TERMINAL_EVENTS:
        params["state"] = event
    if len(rule.providers) == 1:
        params["provider"] = rule.providers[0]
    accounts = list(rule.accounts.all())
    if len(accounts) == 1:
        params["account"] = str(accounts[0].code)
    if len(rule.kinds) == 1:
        params["kind"] = rule.kinds[0]
    return _absolute(reverse("job-list") + ("?" + urlencode(params) if params else ""))


def _title(events: Counter[str], count: int, first: dict[str, Any], rule: AlertRule) -> str:
    if count == 1:
        name = _one_line(first["name"] or first["external_id"], 80)
        if first["event"] == "stuck":
            return f"Clapboard: job {name} has not moved for {rule.stuck_minutes} min"
        return f"Clapboard: job {name} {first['event']}"
    if len(events) == 1:
        event = next(iter(events))
        verb = f"not moving for {rule.stuck_minutes} min" if event == "stuck" else event
        return f"Clapboard: {count} jobs {verb}"
    return (
        f"Clapboard: {count} job alerts ("
        + ", ".join(f"{n} {event}" for event, n in events.most_common())
        + ")"
    )


def _alert_payload(
    rule: AlertRule, notices: list[AlertNotice], now: datetime, *, digest: bool
) -> dict[str, Any]:
    """What every channel says about these notices, as stored on the delivery (and sent
    as is by the generic webhook)."""
    jobs = [_job_facts(n) for n in notices]
    events = Counter(job["event"] for job in jobs)
    failure_codes = Counter(job["failure_code"] or "—" for job in jobs if job["event"] == "failed")
    return {
        "event": next(iter(events)) if len(events) == 1 else "mixed",
        "digest": digest,
        "title": _title(events, len(jobs), jobs[0], rule),
        "rule": {"code": str(rule.code), "name": rule.name},
        "count": len(jobs),
        "summary": {
            "events": dict(events.most_common()),
            "providers": dict(Counter(job["provider_label"] for job in jobs).most_common()),
            "failure_codes": dict(failure_codes.most_common(10)),
        },
        "jobs": jobs[:DIGEST_EXAMPLES] if digest else jobs,
        "list_url": _list_url(rule, set(events)),
        "created_at": now.isoformat(),
    }


def _test_payload(rule: AlertRule, now: datetime) -> dict[str, Any]:
    return {
        "event": "test",
        "digest": False,
        "title": f"Clapboard: test message for rule {_one_line(rule.name, 80)}",
        "rule": {"code": str(rule.code), "name": rule.name},
        "count": 0,
        "summary": {},
        "jobs": [],
        "list_url": _absolute(reverse("job-list")),
        "created_at": now.isoformat(),
    }


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # email, Feishu
    markdown: str  # WeCom, DingTalk
    body: dict[str, Any]  # the generic webhook's JSON


def _md(text: str) -> str:
    # Provider text must not turn into links, mentions or markup in a robot's chat.
    table = str.maketrans({"[": "(", "]": ")", "<": "‹", ">": "›", "`": "'", "*": "·"})
    return str(text).translate(table)


def _md_link(label: str, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return f"[{_md(label)}]({url})"
    return f"{_md(label)}: {url}"  # a relative link is useless in a chat: show the path


def _counts(counts: dict[str, int]) -> str:
    # Most first: PostgreSQL's jsonb does not keep the order the dict was stored in.
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {n}" for name, n in ordered)


def build_message(delivery: AlertDelivery, *, now: datetime) -> Message:
    payload = delivery.payload
    title = _one_line(payload.get("title", "Clapboard alert"), 200)
    rule_name = payload.get("rule", {}).get("name", "")
    jobs = payload.get("jobs", [])
    more = payload.get("count", 0) - len(jobs)
    summary = payload.get("summary", {})
    text = [title, f"Rule: {rule_name}", ""]
    markdown = [f"### {_md(title)}", f"Rule: **{_md(rule_name)}**", ""]
    if payload.get("event") == "test":
        line = "This is a test message. If you can read it, alerts of this rule reach you."
        text.append(line)
        markdown.append(line)
    for job in jobs:
        name = job["name"] or job["external_id"]
        where = " · ".join(filter(None, [job["provider_label"], job["account"], job["kind"]]))
        failure = ""
        if job["event"] == "failed":
            failure = " — ".join(filter(None, [job["failure_code"], job["failure_message"]]))
        text.append(f"• {name} ({where}): {job['event']}")
        if failure:
            text.append(f"  {failure}")
        text.append(f"  {job['url']}")
        markdown.append(f"- **{_md_link(name, job['url'])}** · {_md(where)} · {job['event']}")
        if failure:
            markdown.append(f"  > {_md(failure)}")
    if more > 0:
        text.append(f"… and {more} more")
        markdown.append(f"… and {more} more")
    if payload.get("digest"):
        for label, key in (("By provider", "providers"), ("By failure code", "failure_codes")):
            if summary.get(key):
                text.append(f"{label}: {_counts(summary[key])}")
                markdown.append(f"{label}: {_md(_counts(summary[key]))}")
    list_url = payload.get("list_url", "")
    text += ["", f"Job list: {list_url}"]
    markdown += ["", _md_link("Open the job list", list_url)]
    body = {
        **payload,
        "delivery": delivery.pk,
        "kind": delivery.kind,
        "timestamp": int(now.timestamp()),
    }
    return Message(title=title, text="\n".join(text), markdown="\n\n".join(markdown), body=body)


# --- channels ------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """A channel did not take the message. `permanent` failures are not retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.permanent = permanent
        self.retry_after = retry_after


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def _post_json(rule: AlertRule, url: str, body: bytes, headers: dict[str, str]) -> http.Response:
    """POST through the SSRF guard; a non-2xx answer raises DeliveryFailed."""
    response = http.public_request(
        "POST",
        url,
        headers={"Content-Type": "application/json; charset=utf-8", **headers},
        body=body,
        timeout=SEND_TIMEOUT,
        max_bytes=ANSWER_MAX_BYTES,
        allow_loopback=settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH,
        secrets=rule_secrets(rule),
    )
    if 200 <= response.status < 300:
        return response
    retry_after = response.headers.get("Retry-After", "")
    raise DeliveryFailed(
        f"{urlsplit(url).hostname} answered HTTP {response.status}",
        status=response.status,
        permanent=400 <= response.status < 500 and response.status not in RETRYABLE_4XX,
        retry_after=float(retry_after) if retry_after.isdigit() else None,
    )


def _robot_ack(response: http.Response, label: str, code_keys: tuple[str, ...]) -> int:
    """Robots answer HTTP 200 with an error code in the body; only code 0 is delivered."""
    try:
        answer = json.loads(response.body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise DeliveryFailed(f"{label} answered without its JSON acknowledgement", status=200)
    for key in code_keys:
        if key in answer:
            if answer[key] in (0, "0"):
                return response.status
            reason = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
            raise DeliveryFailed(
                f"{label} refused the message: error {answer[key]} {_one_line(reason, 200)}",
                status=response.status,
            )
    raise DeliveryFailed(f"{label} answered without an error code", status=response.status)


def _secret(rule: AlertRule) -> str:
    return str((rule.secrets or {}).get("secret", ""))


def send_email(rule: AlertRule, message: Message, *, now: datetime) -> int | None:
    recipients = [address.strip() for address in rule.target.split(",") if address.strip()]
    try:
        send_mail(message.title, message.text, None, recipients, fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(
            f"the mail server refused the recipients: {exc}", permanent=True
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"sending mail failed: {type(exc).__name__}: {exc}") from None
    return None


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-Clapboard-Signature value: HMAC-SHA256 of the raw body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(rule: AlertRule, message: Message, *, now: datetime) -> int | None:
    """POST the payload as JSON. The body carries its own `timestamp`, so the signature
    over the raw body also covers the time (receivers can refuse replays)."""
    body = json.dumps(message.body, ensure_ascii=False, sort_keys=True).encode()
    headers = {
        TIMESTAMP_HEADER: str(message.body["timestamp"]),
        "X-Clapboard-Event": message.body.get("event", ""),
        "X-Clapboard-Delivery": str(message.body.get("delivery", "")),
    }
    if secret := _secret(rule):
        headers[SIGNATURE_HEADER] = webhook_signature(secret, body)
    return _post_json(rule, rule.target, body, headers).status


def send_wecom(rule: AlertRule, message: Message, *, now: datetime) -> int | None:
    # WeCom group robot: markdown content is capped at 4096 bytes.
    body = {"msgtype": "markdown", "markdown": {"content": _truncate_bytes(message.markdown, 4000)}}
    response = _post_json(rule, rule.target, json.dumps(body, ensure_ascii=False).encode(), {})
    return _robot_ack(response, "WeCom", ("errcode",))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk custom robot: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def send_dingtalk(rule: AlertRule, message: Message, *, now: datetime) -> int | None:
    url = rule.target
    if secret := _secret(rule):
        timestamp = int(now.timestamp() * 1000)  # milliseconds, within an hour of theirs
        sign = quote_plus(dingtalk_sign(secret, timestamp))
        url += ("&" if urlsplit(url).query else "?") + f"timestamp={timestamp}&sign={sign}"
    body = {
        "msgtype": "markdown",
        "markdown": {
            "title": _one_line(message.title, 64),
            "text": _truncate_bytes(message.markdown, 18000),
        },
    }
    response = _post_json(rule, url, json.dumps(body, ensure_ascii=False).encode(), {})
    return _robot_ack(response, "DingTalk", ("errcode",))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu custom bot: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", message=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def send_feishu(rule: AlertRule, message: Message, *, now: datetime) -> int | None:
    body: dict[str, Any] = {
        "msg_type": "text",
        "content": {"text": _truncate_bytes(message.text, 18000)},
    }
    if secret := _secret(rule):
        timestamp = int(now.timestamp())  # seconds, unlike DingTalk
        body = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **body}
    response = _post_json(rule, rule.target, json.dumps(body, ensure_ascii=False).encode(), {})
    # Current answers carry `code`, older ones `StatusCode`.
    return _robot_ack(response, "Feishu", ("code", "StatusCode"))


CHANNELS: dict[str, Callable[..., int | None]] = {
    AlertRule.Channel.EMAIL: send_email,
    AlertRule.Channel.WEBHOOK: send_webhook,
    AlertRule.Channel.WECOM: send_wecom,
    AlertRule.Channel.DINGTALK: send_dingtalk,
    AlertRule.Channel.FEISHU: send_feishu,
}


def rule_secrets(rule: AlertRule) -> list[str]:
    """Everything about a rule that must never appear in a recorded error or a page:
    its signing secret and the tokens robots carry in their URL (query values, and
    Feishu's hook id in the path)."""
    values = [str(v) for v in (rule.secrets or {}).values() if v]
    if rule.channel != AlertRule.Channel.EMAIL:
        parts = urlsplit(rule.target)
        values += [value for _, value in parse_qsl(parts.query)]
        values += [segment for segment in parts.path.split("/") if len(segment) >= 16]
    return values


# --- delivering ----------------------------------------------------------------------


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
        payload=_test_payload(rule, now),
        next_attempt_at=now,
        created_at=now,
        claimed_by=owner,
        claimed_until=now + CLAIM_TIME,
    )
    _record(delivery, _send(delivery, now), owner=owner, now=now)
    delivery.refresh_from_db()
    return delivery
