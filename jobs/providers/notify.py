"""What a provider's notification says, and the signatures some providers add to it.

None of the five providers signs a notification's body, so Clapboard reads one only as a
hint: the task IDs it names are asked about at once, with the provider's own signed query,
and nothing in the body is stored as the job's state. Each adapter reads its provider's
format (`Provider.parse_notification`) and, where the provider signs the request and the
account holds the key, checks the signature (`Provider.verify_notification`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

# A notification names one task, CI's a few; anything past this is not a notification.
MAX_TASKS = 100
# How far a signed timestamp may be from now (either way) before the request is refused.
FRESH_SECONDS = 300


class NotificationError(ValueError):
    """A notification refused: the message is kept in its record (never a secret)."""


@dataclass(frozen=True)
class Notice:
    """The provider's event name, and the task IDs the notification is about."""

    event: str
    task_ids: tuple[str, ...]


def text(value: Any, limit: int = 255) -> str:
    """A string or number from a body, trimmed to `limit`; anything else is ""."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return "".join(c for c in str(value).strip() if c.isprintable())[:limit]


def notice(event: Any, task_ids: list[Any]) -> Notice:
    ids = tuple(dict.fromkeys(t for t in (text(i) for i in task_ids) if t))
    if len(ids) > MAX_TASKS:
        raise NotificationError(f"names {len(ids)} tasks, more than {MAX_TASKS}")
    return Notice(text(event, 64), ids)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise NotificationError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise NotificationError("the body is not a JSON object")
    return data


def xml_root(body: bytes) -> Any:
    """The parsed XML document (defusedxml: no entities, no external references)."""
    try:
        return ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise NotificationError("the body is not well-formed XML") from None


def fresh(stamp: int, now: float) -> None:
    if abs(now - stamp) > FRESH_SECONDS:
        raise NotificationError("stale timestamp (more than 5 minutes from now)")


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def md5_hex(message: str) -> str:
    return hashlib.md5(message.encode(), usedforsecurity=False).hexdigest()


def hmac_sha256_hex(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
