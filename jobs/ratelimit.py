"""Fixed-window rate limits that hold across every web process.

With Redis as the cache, counters live there (atomic INCR); otherwise they live in the
database (RateCounter), never in one process's memory: four gunicorn workers must not
give four times the limit. A window is aligned on the clock (`now // window`), so every
process agrees which one is current.
"""

from __future__ import annotations

import ipaddress
import math
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest

from jobs.models import RateCounter


def _shared_cache() -> bool:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return backend.endswith("RedisCache")


def _count_in_cache(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window + 5)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window + 5)
        return 1


def _count_in_database(key: str, *, now: datetime, expires_at: datetime) -> int:
    """Add one to `key`'s row and return the new count, exactly under concurrency: the
    UPDATE's row lock (PostgreSQL) or the write lock (SQLite, BEGIN IMMEDIATE) is held
    until the count is read back."""
    rows = RateCounter.objects.filter(key=key)
    with transaction.atomic():
        if not rows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=key, count=1, expires_at=expires_at)
            except IntegrityError:  # another process created it first
                rows.update(count=F("count") + 1)
            else:
                # Once per key and window: drop the windows that are over.
                RateCounter.objects.filter(expires_at__lte=now).delete()
        return rows.values_list("count", flat=True).first() or 0


def rate_hit(
    scope: str, ident: str, *, limit: int, window: int, now: float | None = None
) -> int | None:
    """Count one event for `ident` in `scope`'s current window of `window` seconds.

    Returns None while the window holds at most `limit` events (this one included),
    otherwise the whole seconds until the window ends, for Retry-After.
    """
    now = time.time() if now is None else now
    number = int(now // window)
    key = f"{scope}:{ident}:{number}"[:200]
    ends = (number + 1) * window
    if _shared_cache():
        count = _count_in_cache(f"rate:{key}", window)
    else:
        count = _count_in_database(
            key, now=datetime.fromtimestamp(now, UTC), expires_at=datetime.fromtimestamp(ends, UTC)
        )
    if count <= limit:
        return None
    return max(1, math.ceil(ends - now))


def client_ip(request: HttpRequest) -> str:
    """The client's address as the throttles see it: REMOTE_ADDR, or the header a
    reverse proxy sets (CLAPBOARD_CLIENT_IP_HEADER), when it holds an IP address."""
    header = settings.CLAPBOARD_CLIENT_IP_HEADER
    if header:
        # A proxy appending to X-Forwarded-For puts the address it saw last.
        value = request.META.get(header, "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    return str(request.META.get("REMOTE_ADDR", ""))
