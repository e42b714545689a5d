"""Notifications as hints to the refresh loops: a job a provider notification named
(`Job.notified_at`, set by jobs/services/notifications.py) is asked at once, ahead of its
account's backlog, instead of waiting its turn in a pass of tens of seconds.

Each loop looks four times a second (one indexed read of the few jobs named, usually
none). It takes the hints of the accounts it holds, clearing them, and puts those jobs
first in their accounts' queues; hints of accounts no loop holds make it claim sooner. A
job still in flight keeps its hint, so it is asked again once its answer is stored: that
answer may predate the change the notification announced.

An account that batches (CI, MetaStudio) sends a notified job with the jobs due within
RIDE_SECONDS, up to a batch: alone, each notification cost a whole request, where polling
asks 50 jobs at a time; with them, the ask stands in for the polls they were due.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Mapping
from datetime import timedelta

from django.utils import timezone

from jobs.models import Job
from jobs.refresh.runs import AccountRun, Due, Phase, Queue

HINT_SECONDS = 0.25
MAX_HINTS = 1000
RIDE_SECONDS = 2.0


def hints_apply(runs: Mapping[int, AccountRun], lock: threading.Lock) -> bool:
    """Put notified jobs first in the queues of the accounts in `runs` (a loop's), with
    riders where the account batches; whether accounts outside `runs` have hints too."""
    with lock:
        in_flight = {pk: set(run.in_flight_jobs) for pk, run in runs.items()}
    taken, elsewhere = hints_take(set(runs), in_flight=set().union(*in_flight.values()))
    for account_id, hinted in taken.items():
        run, pks = runs[account_id], {due.pk for due in hinted}
        rest = [due for due in run.due if due.pk not in pks]
        room = run.leased.adapter.batch_size - len(hinted) - len(rest)
        if room > 0:
            skip = pks | in_flight[account_id]
            hinted += riders(account_id, room, skip=skip.union(due.pk for due in rest))
        run.due = deque([*hinted, *rest])
        if run.queue in (Queue.EMPTY, Queue.UNKNOWN):
            run.queue = Queue.READY if run.listing is Phase.OFF else Queue.TO_SORT
    return elsewhere


def riders(account_id: int, room: int, *, skip: Collection[int]) -> list[Due]:
    """Up to `room` of the account's jobs due within RIDE_SECONDS, soonest first."""
    soon = timezone.now() + timedelta(seconds=RIDE_SECONDS)
    rows = (
        Job.objects.filter(account_id=account_id, next_poll_at__lte=soon)
        .exclude(pk__among=skip)
        .order_by("next_poll_at")
        .values_list(*Due._fields)[:room]
    )
    return [Due(*row) for row in rows]


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
        Job.objects.filter(pk__among=pks).update(notified_at=None)
    return taken, elsewhere
