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
asks 50 jobs at a time; with them, the ask stands in for the polls they were due. Its hints
are also left GATHER_SECONDS (unless a batch is waiting), so the notifications of a burst
of finishing jobs share a request instead of taking one each.

Between two loops (a minute's loop ends a second or two before the next has claimed its
accounts), or with no loop running, nobody takes hints: the receiver then queues
`hints_serve` for the account, which asks its notified jobs at once under a brief lease
of its own, so a notification never waits for the next loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from django.utils import timezone

from jobs.models import Account, Job
from jobs.refresh.leases import account_lease_take, account_leases_release, owner_id
from jobs.refresh.poll import Leased, poll_counted
from jobs.refresh.runs import AccountRun, Due, Phase, Queue

HINT_SECONDS = 0.25
MAX_HINTS = 1000
RIDE_SECONDS = 2.0
GATHER_SECONDS = 0.5


def hints_apply(runs: Mapping[int, AccountRun], lock: threading.Lock) -> bool:
    """Put notified jobs first in the queues of the accounts in `runs` (a loop's), with
    riders where the account batches; whether accounts outside `runs` have hints too."""
    with lock:
        in_flight = {pk: set(run.in_flight_jobs) for pk, run in runs.items()}
    batching = {
        pk: run.leased.adapter.batch_size
        for pk, run in runs.items()
        if run.leased.adapter.batch_size > 1
    }
    taken, elsewhere = hints_take(
        set(runs), in_flight=set().union(*in_flight.values()), gather=batching
    )
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
    held: Collection[int],
    *,
    in_flight: Collection[int],
    gather: Mapping[int, int] | None = None,
) -> tuple[dict[int, list[Due]], bool]:
    """The hinted jobs of the accounts in `held`, by account, their hints cleared (but
    not those in flight); and whether enabled accounts outside `held` have hints too.

    An account in `gather` ({account: batch size}) gives its hints only once the oldest
    is GATHER_SECONDS old or they fill a batch; until then they stay for the next look.
    """
    rows = (
        Job.objects.filter(notified_at__isnull=False, account__enabled=True)
        .order_by("notified_at")
        .values_list("account_id", "notified_at", *Due._fields)[:MAX_HINTS]
    )
    taken: dict[int, list[Due]] = {}
    oldest: dict[int, datetime] = {}
    elsewhere = False
    for account_id, notified_at, *fields in rows:
        if account_id not in held:
            elsewhere = True
        elif fields[0] not in in_flight:
            taken.setdefault(account_id, []).append(Due(*fields))
            oldest.setdefault(account_id, notified_at)
    young = timezone.now() - timedelta(seconds=GATHER_SECONDS)
    for account_id, size in (gather or {}).items():
        if account_id in taken and len(taken[account_id]) < size and oldest[account_id] > young:
            del taken[account_id]  # more may come: they share the request
    pks = [due.pk for dues in taken.values() for due in dues]
    if pks:
        Job.objects.filter(pk__among=pks).update(notified_at=None)
    return taken, elsewhere


def hints_serve(*, account_id: int) -> int:
    """Ask the account's notified jobs now, in one request of a batch at most, if no loop
    holds the account (else that loop takes them); returns how many were asked. Hints
    beyond a batch stay for the next loop."""
    owner = owner_id("hints")
    if not account_lease_take(account_id=account_id, owner=owner, ready=True):
        return 0
    asked = 0
    try:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            return 0  # deleted since the notification
        leased = Leased.of(account, owner=owner)
        taken, _ = hints_take({account_id}, in_flight=())
        hinted = taken.get(account_id, [])
        now, size = timezone.now(), leased.adapter.batch_size
        if rest := [due.pk for due in hinted[size:]]:
            Job.objects.filter(pk__among=rest).update(notified_at=now)
        if batch := hinted[:size]:
            poll_counted(leased, {due.external_id: due.pk for due in batch})
            asked = len(batch)
    finally:
        account_leases_release(owner=owner, account_id=account_id)
    return asked
