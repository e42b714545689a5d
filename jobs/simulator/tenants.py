"""The credentials a fake cloud accepts, each with its own rate limit."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tenant:
    """One set of credentials the fake cloud accepts (an appkey, a SecretId, an AK...)."""

    provider: str
    credentials: dict[str, str]
    options: dict[str, str] = field(default_factory=dict)
    rate_limit: float | None = None
    _tokens: float = 0.0
    _stamp: float = 0.0

    def take_token(self, now: float) -> bool:
        """Token bucket with a one-second burst; False means answer 'throttled'."""
        if not self.rate_limit:
            return True
        if not self._stamp:
            self._tokens, self._stamp = self.rate_limit, now
        self._tokens = min(self.rate_limit, self._tokens + (now - self._stamp) * self.rate_limit)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
