"""An account's rate budget: a token bucket under the provider's rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jobs.refresh.shutdown import shutdown_wait


class RateBudget:
    """A token bucket that keeps an account under its provider's rate limit.

    It spends only HEADROOM of the limit, with bursts of a tenth of a second: requests
    wait in a shared queue after their token is taken, so they can reach the provider in
    clumps, and a budget run at exactly the limit gets throttled. A throttling answer
    halves the rate (at most once a second, however many requests were in flight), and
    the rate recovers after a quiet while.
    """

    HEADROOM = 0.95
    RECOVER_AFTER = 30.0  # seconds without a throttling answer

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], bool] = shutdown_wait,
    ) -> None:
        self.limit = max(rate * self.HEADROOM, 0.1)
        self.rate = self.limit
        self.clock = clock
        # Sleeps the given seconds and says whether to give up (the cluster is stopping).
        self.sleep = sleep
        self.tokens = 1.0
        self.stamp = clock()
        self.slowed_at = -1e9
        self.lock = threading.Lock()

    def _wait_for_token(self) -> float:
        """Take a token if there is one (0.0), else how long until the next one."""
        with self.lock:
            now = self.clock()
            if self.rate < self.limit and now - self.slowed_at > self.RECOVER_AFTER:
                self.rate = self.limit
            burst = max(1.0, self.rate / 10)
            self.tokens = min(burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate

    def try_take(self) -> bool:
        """Take a token if one is there now."""
        return self._wait_for_token() == 0.0

    def take(self, deadline: float | None = None) -> bool:
        """Take a token, sleeping as long as the next one needs.

        Returns False instead when the token would come after `deadline` (on the
        budget's clock) or when the cluster is stopping.
        """
        while (wait := self._wait_for_token()) > 0.0:
            if deadline is not None and self.clock() + wait > deadline:
                return False
            if self.sleep(wait):
                return False
        return True

    def slow_down(self) -> None:
        with self.lock:
            now = self.clock()
            if now - self.slowed_at < 1.0:
                return  # the other requests of the same burst: one halving is enough
            self.slowed_at = now
            self.rate = max(0.1, self.rate / 2)
            self.tokens = 0
