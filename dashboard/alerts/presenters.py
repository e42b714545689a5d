"""What the alert pages show of a rule: where it sends (without its tokens) and its scope."""

from __future__ import annotations

from urllib.parse import urlsplit

from jobs.alerts.events import EVENT_LABELS
from jobs.models import AlertDelivery, AlertRule
from jobs.providers import PROVIDERS


def target_display(rule: AlertRule) -> str:
    """Where a rule sends, without the tokens robot URLs carry in their path or query."""
    target: str = rule.target
    if rule.channel == AlertRule.Channel.EMAIL:
        return target
    parts = urlsplit(target)
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{hidden}"


class RuleRow:
    """A line of the rules page, from a rule of its query (`recent_deliveries` prefetched)."""

    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule
        self.target = target_display(rule)
        self.events = [EVENT_LABELS.get(e, e).split(" (")[0] for e in rule.events]
        scope = [PROVIDERS[p][0] if p in PROVIDERS else p for p in rule.providers]
        scope += [account.name for account in rule.accounts.all()]
        scope += [f"kind {kind}" for kind in rule.kinds]
        self.scope = scope
        self.recent: list[AlertDelivery] = getattr(rule, "recent_deliveries", [])
