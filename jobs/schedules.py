"""The django-q2 schedules the refresh engine needs, created idempotently after migrate."""

from __future__ import annotations

from typing import Any

from django.conf import settings

LOOP_PREFIX = "refresh-loop-"
# Every-minute housekeeping next to the refresh loops: name → task.
PERIODIC = {
    "discover-jobs": "jobs.tasks.discover_jobs",
    "alerts-scan": "jobs.tasks.alerts_scan",
    "alerts-deliver": "jobs.tasks.alerts_deliver",
    "bulk-sweep": "jobs.tasks.bulk_sweep",  # bulk runs whose worker went silent
}
# Hourly housekeeping: name → task.
HOURLY = {
    "notifications-prune": "jobs.tasks.notifications_prune",  # records past their retention
}


def ensure_schedules(**kwargs: Any) -> None:
    """One every-minute schedule per configured refresh loop, and the housekeeping ones;
    never duplicated."""
    from django_q.models import Schedule

    loops = settings.CLAPBOARD_REFRESH_LOOPS
    wanted = {f"{LOOP_PREFIX}{n}" for n in range(1, loops + 1)}
    for name in sorted(wanted):
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": "jobs.tasks.refresh_loop",
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
            },
        )
    Schedule.objects.filter(name__startswith=LOOP_PREFIX).exclude(name__in=wanted).delete()
    every = [(name, func, 1) for name, func in PERIODIC.items()]
    every += [(name, func, 60) for name, func in HOURLY.items()]
    for name, func, minutes in every:
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
