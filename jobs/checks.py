"""Clapboard's own invariants as system checks, so `manage.py check` catches them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from jobs.crypto import EncryptionError, fernet


@checks.register(checks.Tags.security, deploy=False)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        fernet()
    except EncryptionError as exc:
        return [checks.Error(str(exc), id="clapboard.E001")]
    return []


@checks.register()
def check_q_cluster(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    config = settings.Q_CLUSTER
    messages: list[checks.CheckMessage] = []
    retry, timeout = config.get("retry", 60), config.get("timeout", 0)
    # Settings parse both as integers; anything else is django-q2's to refuse.
    if isinstance(retry, int | float) and isinstance(timeout, int | float) and retry <= timeout:
        messages.append(
            checks.Error(
                "Q_CLUSTER retry must be greater than timeout, or a slow task is run twice",
                id="clapboard.E002",
            )
        )
    workers, loops = config.get("workers"), settings.CLAPBOARD_REFRESH_LOOPS
    if isinstance(workers, int) and workers <= loops:
        messages.append(
            checks.Warning(
                f"Q_WORKERS ({workers}) is not more than CLAPBOARD_REFRESH_LOOPS ({loops}): "
                "the refresh loops hold every worker, so Refresh now, bulk actions, alerts "
                "and discovery wait for a loop to end (up to a minute)",
                hint=f"Set Q_WORKERS to at least {loops + 1}.",
                id="clapboard.W002",
            )
        )
    is_sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    if is_sqlite and settings.REDIS_URL:
        messages.append(
            checks.Warning(
                "REDIS_URL with SQLite: several clusters writing one SQLite file will "
                "contend for its lock; use PostgreSQL (DATABASE_URL) to scale out",
                id="clapboard.W001",
            )
        )
    return messages
