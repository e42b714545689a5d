"""Provider notifications: an account's receiver (its URL secret) and what one received does.

A notification is a hint. The URL secret says it came from whoever was given the URL, and
where the provider signs its requests the signature says it came from the provider, but no
provider signs the body, so nothing in it is stored as the job's state: the jobs it names
are marked for an immediate ask (`Job.notified_at`; the refresh loops take those first,
jobs/refresh/hints.py) and the provider's own signed answer is what changes them. Polling
stays the safety net, so a notification lost costs only time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from jobs.models import Account, AuditEntry, Job, JobEvent, Notification
from jobs.providers.notify import NotificationError
from jobs.services.audit import audit_record
from jobs.services.hashed_tokens import token_hash

Outcome = Notification.Outcome
# secrets.token_urlsafe(32): 256 bits in 43 URL-safe characters.
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# A repeat of a body received this recently causes no second ask.
REPEAT_WINDOW = timedelta(minutes=10)


def hook_secret_create(*, account: Account, user: Any, via: str) -> str:
    """A new receiver secret for `account` (replacing any): returned once, kept as a hash."""
    secret = secrets.token_urlsafe(32)
    rotated = bool(account.hook_secret_hash)
    account.hook_secret_hash, account.hook_secret_at = token_hash(secret), timezone.now()
    Account.objects.filter(pk=account.pk).update(
        hook_secret_hash=account.hook_secret_hash, hook_secret_at=account.hook_secret_at
    )
    audit_record(
        user=user,
        via=via,
        action=AuditEntry.Action.ACCOUNT_CHANGE,
        outcome=AuditEntry.Outcome.DONE,
        summary="Notification URL replaced" if rotated else "Notification URL created",
        account=account,
    )
    return secret


def hook_url(account: Account, secret: str, *, base: str = "") -> str:
    """The receiver's URL to paste into the provider's console: CLAPBOARD_BASE_URL (or
    `base`, the address the page was reached at) and the path."""
    path = reverse("hook", args=[account.code, secret])
    return (settings.CLAPBOARD_BASE_URL or base.rstrip("/")) + path


def _job_secret(account: Account) -> str:
    """The URL secret of the callbacks Clapboard itself asks for (a submitted CI job's
    CallBack): derived from the receiver's hash with SECRET_KEY, so no secret is stored in
    the clear and replacing the receiver's URL ends these too."""
    message = f"hook-callback:{account.code}:{account.hook_secret_hash}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def submit_callback_url(account: Account) -> str:
    """The callback URL a job submitted to `account` names, or "" (no receiver yet, or no
    CLAPBOARD_BASE_URL: a provider needs an absolute URL it can reach)."""
    if not account.hook_secret_hash or not settings.CLAPBOARD_BASE_URL:
        return ""
    return hook_url(account, _job_secret(account))


def _secret_matches(account: Account, secret: str) -> bool:
    if not account.hook_secret_hash or not SECRET_SHAPE.fullmatch(secret):
        return False
    if hmac.compare_digest(token_hash(secret), account.hook_secret_hash):
        return True
    return hmac.compare_digest(secret, _job_secret(account))


def notification_refuse(*, account: Account, reason: str) -> Notification:
    return Notification.objects.create(
        account=account, outcome=Outcome.REFUSED, reason=reason[:255]
    )


def notification_receive(
    *,
    account: Account,
    secret: str,
    body: bytes,
    content_type: str,
    url: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> list[Notification]:
    """Check, read and record one notification; mark the jobs it names for an immediate
    ask. The records say what became of it (a refused one is a single REFUSED record)."""
    now = now or timezone.now()
    if not _secret_matches(account, secret):
        return [notification_refuse(account=account, reason="wrong receiver secret")]
    if not account.enabled:
        return [notification_refuse(account=account, reason="the account is disabled")]
    adapter = account.adapter()
    try:
        adapter.verify_notification(url=url, query=query, headers=headers, now=now.timestamp())
        notice = adapter.parse_notification(body, content_type)
    except NotificationError as exc:
        return [notification_refuse(account=account, reason=str(exc))]
    seen = _Seen(account, now, notice.event, hashlib.sha256(body).hexdigest())
    if not notice.task_ids:
        return Notification.objects.bulk_create([seen.record("", Outcome.UNKNOWN, "names no task")])
    repeat = Notification.objects.filter(
        account=account, digest=seen.digest, received_at__gte=now - REPEAT_WINDOW
    ).exclude(outcome=Outcome.REFUSED)
    if repeat.exists():
        records = [seen.record(task, Outcome.DUPLICATE) for task in notice.task_ids]
        return Notification.objects.bulk_create(records)
    with transaction.atomic():
        records = Notification.objects.bulk_create(_apply(seen, notice.task_ids))
    if any(r.outcome in ASKED and not r.reason for r in records):
        _serve_between_loops(account, now)
    return records


# The outcomes of a record whose job was marked for an ask (a reason says why it was not).
ASKED = (Outcome.ACCEPTED, Outcome.DISCOVERED)


def _serve_between_loops(account: Account, now: datetime) -> None:
    """No loop holds the account (between two loops, or none is running): queue a task
    that asks the notified jobs now rather than at the next loop's start. One a second
    per account and process is enough: the task takes every hint waiting."""
    if Account.objects.filter(pk=account.pk, lease_until__gte=now).exists():
        return  # a loop holds it: that loop takes the hints within a quarter second
    if cache.add(f"hints-serve:{account.pk}", 1, timeout=1):
        # Through the broker even where tasks run inline (tests): the receiver answers at
        # once, and the ask is the task's.
        name = f"hints of account {account.pk}"
        async_task("jobs.tasks.hints_serve", account.pk, task_name=name, sync=False)


@dataclass(frozen=True)
class _Seen:
    """One notification read: whose, when, its event and the digest of its body."""

    account: Account
    at: datetime
    event: str
    digest: str

    def record(
        self, task: str, outcome: str, reason: str = "", job: Job | None = None
    ) -> Notification:
        return Notification(
            account=self.account,
            received_at=self.at,
            task_id=task,
            event=self.event,
            outcome=outcome,
            reason=reason,
            job=job,
            digest=self.digest,
        )


def _apply(seen: _Seen, task_ids: tuple[str, ...]) -> list[Notification]:
    """Mark the named jobs that are watched and active for an immediate ask, put a line on
    each named job's timeline, track unknown tasks where discovery is on; the records."""
    account, now = seen.account, seen.at
    jobs = {
        job.external_id: job
        for job in Job.objects.filter(account=account, external_id__in=task_ids).only(
            "pk", "external_id", "state", "next_poll_at"
        )
    }
    asked = {job.pk for job in jobs.values() if job.next_poll_at and not job.is_terminal}
    Job.objects.filter(pk__in=asked).update(notified_at=now, next_poll_at=now)
    JobEvent.objects.bulk_create(
        JobEvent(
            job=job,
            at=now,
            state=job.state,
            kind=JobEvent.Kind.NOTIFIED,
            note=f"notified: {seen.event}"[:255],
        )
        for job in jobs.values()
    )
    unknown = [task for task in task_ids if task not in jobs]
    new: dict[str, Job] = {}
    if unknown and account.discover:
        # Tracked like a discovered job: due at once, and hinted like the others.
        Job.objects.bulk_create(
            [Job(account=account, external_id=t, notified_at=now) for t in unknown],
            ignore_conflicts=True,
        )
        new = {
            j.external_id: j for j in Job.objects.filter(account=account, external_id__in=unknown)
        }
    records = []
    for task in task_ids:
        if job := jobs.get(task):
            reason = "" if job.pk in asked else _why_not_asked(job)
            records.append(seen.record(task, Outcome.ACCEPTED, reason, job))
        elif job := new.get(task):
            records.append(seen.record(task, Outcome.DISCOVERED, job=job))
        else:
            records.append(seen.record(task, Outcome.UNKNOWN, "no tracked job has this task ID"))
    return records


def _why_not_asked(job: Job) -> str:
    if job.is_terminal:
        return "the job had already finished: not asked"
    return "the job is not watched: not asked"


# Rows one DELETE removes: short transactions, so a receiver's insert never waits long on
# SQLite's single writer.
PRUNE_CHUNK = 5000


def notifications_prune(*, now: datetime | None = None, chunk: int = PRUNE_CHUNK) -> int:
    """Delete the notification records older than CLAPBOARD_NOTIFICATION_RETENTION_DAYS;
    returns how many. Account by account, oldest first and `chunk` rows at a time, each
    read walking the (account, -received_at) index, so a backlog of millions is removed
    in short transactions instead of one that holds the writer."""
    cutoff = (now or timezone.now()) - timedelta(
        days=settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS
    )
    removed = 0
    for account_id in Account.objects.order_by("pk").values_list("pk", flat=True):
        old = Notification.objects.filter(account_id=account_id, received_at__lt=cutoff)
        while ids := list(old.order_by("received_at").values_list("pk", flat=True)[:chunk]):
            removed += Notification.objects.filter(pk__in=ids).delete()[0]
    return removed
