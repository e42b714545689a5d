"""django-q2 tasks: two-line wrappers that take ids and call the engine or a service."""

from __future__ import annotations

from jobs import alerts, refresh
from jobs.refresh import discovery, hints
from jobs.services import bulk, bulk_recovery, notifications


def refresh_loop() -> dict[str, int]:
    return refresh.refresh_loop()


def job_refresh(job_id: int, audit_id: int | None = None) -> None:
    refresh.job_refresh_now(job_id=job_id, audit_id=audit_id)


def discover_jobs() -> dict[str, int]:
    return discovery.discovery_run()


def alerts_scan() -> int:
    return alerts.alerts_scan()


def alerts_deliver() -> int:
    return alerts.alerts_deliver()


def bulk_action_run(bulk_id: int) -> None:
    bulk.bulk_action_run(bulk_id=bulk_id)


def bulk_sweep() -> int:
    return bulk_recovery.bulk_sweep()


def notifications_prune() -> int:
    return notifications.notifications_prune()


def hints_serve(account_id: int) -> int:
    return hints.hints_serve(account_id=account_id)
