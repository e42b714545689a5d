"""What every channel shares: the failure it raises, the POST through the outbound guard,
the robots' acknowledgement, and the secrets a rule must never leak."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings

from jobs import http
from jobs.alerts.messages import Message, one_line
from jobs.models import AlertRule
from jobs.providers import wire

SEND_TIMEOUT = (5.0, 10.0)
ANSWER_MAX_BYTES = 64 * 1024
RETRYABLE_4XX = frozenset({408, 425, 429})


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


class Channel:
    """One way of telling a rule's owner. A channel is called with the rule, the message
    and the time, and returns the receiver's HTTP status (None when there is none, as for
    email); it raises DeliveryFailed when the message was not taken."""

    def send(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        raise NotImplementedError

    def __call__(self, rule: AlertRule, message: Message, *, now: datetime) -> int | None:
        return self.send(rule, message, now=now)


class RobotChannel(Channel):
    """A chat robot: answers HTTP 200 with an error code in its JSON body."""

    label = "robot"
    # Where the robot puts its error code; the first key present counts.
    code_keys: tuple[str, ...] = ("errcode",)

    def acknowledged(self, response: http.Response) -> int:
        """The response's status if the robot took the message (code 0), else raises
        DeliveryFailed with the robot's own reason."""
        try:
            answer = json.loads(response.body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise DeliveryFailed(
                f"{self.label} answered without its JSON acknowledgement", status=200
            )
        for key in self.code_keys:
            if key in answer:
                if answer[key] in (0, "0"):
                    return response.status
                reason = (
                    answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
                )
                raise DeliveryFailed(
                    f"{self.label} refused the message: error {answer[key]} {one_line(reason, 200)}",
                    status=response.status,
                )
        raise DeliveryFailed(f"{self.label} answered without an error code", status=response.status)


def post_json(rule: AlertRule, url: str, body: bytes, headers: dict[str, str]) -> http.Response:
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
    raise DeliveryFailed(
        f"{urlsplit(url).hostname} answered HTTP {response.status}",
        status=response.status,
        permanent=400 <= response.status < 500 and response.status not in RETRYABLE_4XX,
        retry_after=wire.retry_after(response.headers),
    )


def truncate_bytes(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def rule_secret(rule: AlertRule) -> str:
    """The rule's signing secret ("" when it has none)."""
    return str((rule.secrets or {}).get("secret", ""))


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
