"""One request and one answer as the simulator's provider halves see them.

The HTTP server (server.py) turns bytes into a `SimRequest` and a `SimResponse` back into
bytes; provider simulators only ever deal in these two, and raise `Reject` to answer early.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str  # percent-encoded, as sent
    query: str  # raw query string, as sent
    headers: Message
    body: bytes

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds between body bytes: a provider that answers, then trickles (0: all at once).
    drip: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> SimResponse:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def xml(cls, text: str, status: int = 200, **headers: str) -> SimResponse:
        return cls(status, text.encode(), {"Content-Type": "application/xml", **headers})


class Reject(Exception):
    """Raised by a provider simulator to answer with an error response right away."""

    def __init__(self, response: SimResponse) -> None:
        super().__init__(response.status)
        self.response = response
