"""The alert channels, one module each behind `Channel`, and the registry by rule channel.

The registry holds callables `(rule, message, *, now) -> status`; a Channel is one.
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.alerts.channels.base import Channel, DeliveryFailed, rule_secrets
from jobs.alerts.channels.dingtalk import DingTalk
from jobs.alerts.channels.email import Email
from jobs.alerts.channels.feishu import Feishu
from jobs.alerts.channels.webhook import Webhook
from jobs.alerts.channels.wecom import WeCom
from jobs.models import AlertRule

CHANNELS: dict[str, Callable[..., int | None]] = {
    AlertRule.Channel.EMAIL: Email(),
    AlertRule.Channel.WEBHOOK: Webhook(),
    AlertRule.Channel.WECOM: WeCom(),
    AlertRule.Channel.DINGTALK: DingTalk(),
    AlertRule.Channel.FEISHU: Feishu(),
}

__all__ = ["CHANNELS", "Channel", "DeliveryFailed", "rule_secrets"]
