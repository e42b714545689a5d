"""WeCom (企业微信) group robot: markdown, the key in the URL's query."""

from __future__ import annotations

import json
from datetime import datetime

from jobs.alerts.channels.base import RobotChannel, post_json, truncate_bytes
from jobs.alerts.messages import Message
from jobs.models import AlertRule


class WeCom(RobotChannel):
    label = "WeCom"
    code_keys = ("errcode",)

    def send(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        # WeCom group robot: markdown content is capped at 4096 bytes.
        content = truncate_bytes(message.markdown, 4000)
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        response = post_json(rule, rule.target, json.dumps(body, ensure_ascii=False).encode(), {})
        return self.acknowledged(response)
