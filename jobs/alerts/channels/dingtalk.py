"""DingTalk custom robot: markdown, signed in the query when the rule has a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import quote_plus, urlsplit

from jobs.alerts.channels.base import RobotChannel, post_json, rule_secret, truncate_bytes
from jobs.alerts.messages import Message, one_line
from jobs.models import AlertRule


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk custom robot: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class DingTalk(RobotChannel):
    label = "DingTalk"
    code_keys = ("errcode",)

    def send(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        url = rule.target
        if secret := rule_secret(rule):
            timestamp = int(now.timestamp() * 1000)  # milliseconds, within an hour of theirs
            sign = quote_plus(dingtalk_sign(secret, timestamp))
            url += ("&" if urlsplit(url).query else "?") + f"timestamp={timestamp}&sign={sign}"
        body = {
            "msgtype": "markdown",
            "markdown": {
                "title": one_line(message.title, 64),
                "text": truncate_bytes(message.markdown, 18000),
            },
        }
        response = post_json(rule, url, json.dumps(body, ensure_ascii=False).encode(), {})
        return self.acknowledged(response)
