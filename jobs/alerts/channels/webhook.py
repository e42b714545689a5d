"""The generic webhook: the delivery's payload as JSON, HMAC-signed when the rule has a
secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from jobs.alerts.channels.base import Channel, post_json, rule_secret
from jobs.alerts.messages import Message
from jobs.models import AlertRule

SIGNATURE_HEADER = "X-Clapboard-Signature"
TIMESTAMP_HEADER = "X-Clapboard-Timestamp"


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-Clapboard-Signature value: HMAC-SHA256 of the raw body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook(Channel):
    def send(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        """POST the payload as JSON. The body carries its own `timestamp`, so the signature
        over the raw body also covers the time (receivers can refuse replays)."""
        body = json.dumps(message.body, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            TIMESTAMP_HEADER: str(message.body["timestamp"]),
            "X-Clapboard-Event": message.body.get("event", ""),
            "X-Clapboard-Delivery": str(message.body.get("delivery", "")),
        }
        if secret := rule_secret(rule):
            headers[SIGNATURE_HEADER] = webhook_signature(secret, body)
        return post_json(rule, rule.target, body, headers).status
