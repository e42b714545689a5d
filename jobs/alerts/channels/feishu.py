"""Feishu (Lark) custom bot: plain text, signed in the body when the rule has a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from jobs.alerts.channels.base import RobotChannel, post_json, rule_secret, truncate_bytes
from jobs.alerts.messages import Message
from jobs.models import AlertRule


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu custom bot: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", message=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class Feishu(RobotChannel):
    label = "Feishu"
    # Current answers carry `code`, older ones `StatusCode`.
    code_keys = ("code", "StatusCode")

    def send(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        body: dict[str, Any] = {
            "msg_type": "text",
            "content": {"text": truncate_bytes(message.text, 18000)},
        }
        if secret := rule_secret(rule):
            timestamp = int(now.timestamp())  # seconds, unlike DingTalk
            body = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **body}
        response = post_json(rule, rule.target, json.dumps(body, ensure_ascii=False).encode(), {})
        return self.acknowledged(response)
