"""Notices of account episodes: credentials rejected, provider unreachable or rate-limited
for a rule's minutes, discovery failing, and their recovery.

The episodes are written where the account's health is recorded (jobs/services/
episodes.py); the scan only reads them. A rule hears of an episode once per event (the
AlertNotice unique constraint on rule, episode and event), and of its end only if it
heard of the episode.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef

from jobs.alerts.events import ACCOUNT_EVENTS, RECOVERED
from jobs.models import AccountEpisode, AlertNotice, AlertRule

# Recoveries are looked for this far back, like terminal job events (scan.LOOKBACK).
RECOVERY_LOOKBACK = timedelta(hours=1)
# A flaky account opens and ends an episode per hiccup: those no rule heard of go after
# this long.
EPISODES_KEPT = timedelta(days=7)


def episodes_prune(now: datetime) -> int:
    """Delete the episodes that ended over EPISODES_KEPT ago and that no rule was told
    of; returns how many. The ones told of stay with their notices (the dedup)."""
    old = AccountEpisode.objects.filter(ended_at__lt=now - EPISODES_KEPT).exclude(
        Exists(AlertNotice.objects.filter(episode=OuterRef("pk")))
    )
    # A read first: on SQLite even a DELETE that matches nothing takes the write lock.
    if not old.exists():
        return 0
    return old.delete()[0]


def episode_threshold(rule: AlertRule, kind: str) -> timedelta:
    """How long an episode of this kind lasts before the rule hears of it."""
    minutes: dict[str, int] = {
        AccountEpisode.Kind.UNREACHABLE: rule.unreachable_minutes,
        AccountEpisode.Kind.RATE_LIMITED: rule.rate_limited_minutes,
    }
    # Refused credentials and failing discovery: at once.
    return timedelta(minutes=minutes.get(kind, 0))


def _in_scope(rule: AlertRule, episode: AccountEpisode, account_ids: set[int]) -> bool:
    # Job kinds say nothing about an account: only providers and accounts scope these.
    account = episode.account
    return (not rule.providers or account.provider in rule.providers) and (
        not account_ids or account.pk in account_ids
    )


def notice_account_episodes(rules: list[AlertRule], now: datetime) -> None:
    """Record the notices of open episodes that have lasted each rule's threshold, and
    the recoveries of ended episodes the rule was told of."""
    interested = [r for r in rules if any(e in ACCOUNT_EVENTS for e in r.events)]
    if interested:
        _notice_open(interested, now)
    _notice_recovered(rules, now)


def _notice_open(rules: list[AlertRule], now: datetime) -> None:
    # Open episodes number at most four per account: read them all.
    episodes = list(
        AccountEpisode.objects.filter(ended_at__isnull=True, account__enabled=True)
        .select_related("account")
        .only("id", "kind", "started_at", "account__id", "account__provider", "account__discover")
        .order_by("started_at", "id")
    )
    if not episodes:
        return
    existing = set(
        AlertNotice.objects.filter(rule__in=rules, episode__in=episodes).values_list(
            "rule_id", "episode_id"
        )
    )
    new = []
    for rule in rules:
        account_ids = {account.pk for account in rule.accounts.all()}
        for episode in episodes:
            if (
                episode.kind in rule.events
                and (rule.pk, episode.pk) not in existing
                and episode.started_at <= now - episode_threshold(rule, episode.kind)
                and (episode.kind != AccountEpisode.Kind.DISCOVERY or episode.account.discover)
                and _in_scope(rule, episode, account_ids)
            ):
                new.append(
                    AlertNotice(rule=rule, episode=episode, event=episode.kind, created_at=now)
                )
    AlertNotice.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)


def _notice_recovered(rules: list[AlertRule], now: datetime) -> None:
    told = AlertNotice.objects.filter(
        rule__in=rules,
        episode__ended_at__isnull=False,
        episode__ended_at__gte=now - RECOVERY_LOOKBACK,
    )
    pairs = set(told.exclude(event=RECOVERED).values_list("rule_id", "episode_id"))
    pairs -= set(told.filter(event=RECOVERED).values_list("rule_id", "episode_id"))
    AlertNotice.objects.bulk_create(
        [
            AlertNotice(rule_id=rule_id, episode_id=episode_id, event=RECOVERED, created_at=now)
            for rule_id, episode_id in sorted(pairs)
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
