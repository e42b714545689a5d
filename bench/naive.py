"""The naive refresh pass the measured one is compared with."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.world import RATE_LIMITS

# --- the naive pass ------------------------------------------------------------------------------


@dataclass
class NaiveProvider:
    code: str
    sampled: int = 0
    seconds: float = 0.0
    http_seconds: float = 0.0
    throttled: int = 0
    failed: int = 0

    @property
    def per_job_ms(self) -> float:
        return 1000 * self.seconds / self.sampled if self.sampled else 0.0


@contextlib.contextmanager
def fresh_connections() -> Iterator[list[Any]]:
    """Make every request in the block open its own session, hence its own connection.

    Sessions opened are collected so the caller closes them after each request: the
    socket is really closed, not parked in a pool.
    """
    import requests

    from jobs import http

    opened: list[requests.Session] = []
    pooled = http._session

    def session(purpose: str = "api") -> requests.Session:
        new = requests.Session()
        new.trust_env = False
        opened.append(new)
        return new

    http._session = session
    try:
        yield opened
    finally:
        http._session = pooled


def naive_pass(*, accounts: dict[str, int], per_provider: int | None) -> list[NaiveProvider]:
    """One request per job, sequentially, a new connection each time, applied as the engine
    applies them. A throttled request waits for the next token (1 / rate) and is sent again:
    the simulator's limit is the only one."""
    from django.utils import timezone

    from jobs import services
    from jobs.models import Account, Job
    from jobs.providers.base import ProviderError

    results = []
    with fresh_connections() as opened:
        for code, account_id in accounts.items():
            account = Account.objects.get(pk=account_id)
            adapter = account.adapter()
            rows = Job.objects.filter(account_id=account_id).order_by("pk")
            sample = list(rows.values_list("pk", "external_id")[:per_provider])
            result = NaiveProvider(code)
            started = time.perf_counter()
            for pk, external in sample:
                while True:
                    asked_at = timezone.now()
                    request_started = time.perf_counter()
                    try:
                        answer = adapter.fetch([external])[external]
                    except ProviderError as error:
                        answer = error
                    finally:
                        result.http_seconds += time.perf_counter() - request_started
                        for session in opened:
                            session.close()
                        opened.clear()
                    if isinstance(answer, ProviderError) and answer.retry_after is not None:
                        result.throttled += 1
                        time.sleep(1 / RATE_LIMITS[code])
                        continue
                    break
                if isinstance(answer, ProviderError):
                    result.failed += 1
                else:
                    services.job_apply_status(job_id=pk, status=answer, asked_at=asked_at)
                result.sampled += 1
            result.seconds = time.perf_counter() - started
            results.append(result)
    return results
