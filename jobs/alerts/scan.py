"""Finding what is worth telling: notices of terminal and stuck jobs and of account
episodes (jobs/alerts/accounts.py), queued as deliveries.

`alerts_scan` reads the job history (JobEvent) and the active jobs, never the refresh
engine's state: any number of clusters may run it at once. The AlertNotice unique
constraint (rule, job, event) is the dedup, so a job alerts once per event and rule,
ever, across restarts. New notices become deliveries: one per notice, or one digest
when a rule has many job notices at once (an account's notice always goes alone).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.alerts.accounts import episodes_prune, notice_account_episodes
from jobs.alerts.events import STUCK_STATES, TERMINAL_EVENTS
from jobs.alerts.messages import alert_payload
from jobs.models import AlertDelivery, AlertNotice, AlertRule, Job, JobEvent

# Terminal events are looked for this far back, so a scan that did not run for a while
# (deploy, outage) still alerts; the unique constraint makes rescanning harmless.
LOOKBACK = timedelta(hours=1)

# Event ids and times are not strictly in the same order (concurrent transactions, hosts'
# clocks): keep reading older ids this much past the window.
CLOCK_SKEW = timedelta(minutes=5)
EVENT_CHUNK = 2000
NOTICES_PER_RULE = 10_000  # per scan; the rest waits for the next minute
DIGEST_THRESHOLD = 10  # more new notices than this for one rule in one scan → one digest


def alerts_scan(now: datetime | None = None) -> int:
    """Record new notices for every enabled rule and queue their deliveries.

    Returns how many deliveries were created. Safe to run concurrently and repeatedly:
    a notice exists once per (rule, job, event) and is linked to one delivery only.
    """
    now = now or timezone.now()
    episodes_prune(now)
    rules = list(AlertRule.objects.filter(enabled=True).prefetch_related("accounts"))
    if not rules:
        return 0
    _notice_terminal_events(rules, now)
    for rule in rules:
        if "stuck" in rule.events:
            _notice_stuck_jobs(rule, now)
    notice_account_episodes(rules, now)
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
            .select_related("job__account", "episode__account")
            .order_by("id")
        )
        if not notices:
            return 0
        jobs = [n for n in notices if n.job_id is not None]
        groups = [[n] for n in notices if n.job_id is None]
        groups += [jobs] if len(jobs) > DIGEST_THRESHOLD else [[n] for n in jobs]
        created = 0
        for group in groups:
            digest = len(group) > 1
            delivery = AlertDelivery.objects.create(
                rule=rule,
                kind="digest" if digest else "single",
                payload=alert_payload(rule, group, now, digest=digest),
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
