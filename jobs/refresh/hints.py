"""Notifications as hints to the refresh loops: a job a provider notification named
(`Job.notified_at`, set by jobs/services/notifications.py) is asked at once, ahead of its
account's backlog, instead of waiting its turn in a pass of tens of seconds.

Each loop looks four times a second (one indexed read of the few jobs named, usually
none). It takes the hints of the accounts it holds, clearing them, and puts those jobs
first in their accounts' queues; hints of accounts no loop holds make it claim sooner. A
job still in flight keeps its hint, so it is asked again once its answer is stored: that
answer may predate the change the notification announced.
"""

from __future__ import annotations

from collections.abc import Collection

from jobs.models import Job
from jobs.refresh.runs import Due

HINT_SECONDS = 0.25
MAX_HINTS = 1000


def hints_take(
    held: Collection[int], *, in_flight: Collection[int]
) -> tuple[dict[int, list[Due]], bool]:
    """The hinted jobs of the accounts in `held`, by account, their hints cleared (but
    not those in flight); and whether enabled accounts outside `held` have hints too."""
    rows = (
        Job.objects.filter(notified_at__isnull=False, account__enabled=True)
        .order_by("notified_at")
        .values_list("account_id", *Due._fields)[:MAX_HINTS]
    )
    taken: dict[int, list[Due]] = {}
    elsewhere = False
    for account_id, *fields in rows:
        if account_id not in held:
            elsewhere = True
        elif fields[0] not in in_flight:
            taken.setdefault(account_id, []).append(Due(*fields))
    pks = [due.pk for dues in taken.values() for due in dues]
    if pks:
        Job.objects.filter(pk__in=pks).update(notified_at=None)
    return taken, elsewhere
