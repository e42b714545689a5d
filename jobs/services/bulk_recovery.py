"""Bulk runs whose worker went silent: resumed where they got to, or ended.

A worker that dies (killed, out of memory, its host gone) leaves its run queued or
running forever: nothing else would pick it up, since a second delivery of the task
finds it taken. `bulk_sweep`, every minute, hands such a run to a new worker; after
MAX_RESUMES it gives up and fails the jobs not yet worked through, with the reason.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from jobs.models import BulkAction
from jobs.services.bulk import bulk_enqueue, bulk_fail_job
from jobs.services.bulk_state import bulk_finish

# How long a run may show no sign of life. A working run writes its heartbeat at least
# every ~65 s whatever it does: BEAT_SECONDS (10) + one paced wait for a token (10 s at
# the 0.1/s floor a throttled budget slows to) + one provider request (5 s connect, 20 s
# deadline) + one chunk's writes waiting for SQLite's writer (20 s busy timeout). Five
# minutes is over four times that, so a slow run is never taken for a dead one, and a
# dead one is picked up within six.
STALL = timedelta(minutes=5)
MAX_RESUMES = 3
GAVE_UP = (
    "Not done: the run's worker stopped {stops} times (it was resumed after the first "
    "{resumes}); select these jobs again to retry."
)
_SILENT = (BulkAction.State.QUEUED, BulkAction.State.RUNNING)


def bulk_sweep(*, now: datetime | None = None) -> int:
    """Resume, or end after MAX_RESUMES, every queued or running run silent for STALL
    (no heartbeat; a queued one counts from when it was asked or last resumed).
    Returns how many it handled. Safe with any number of sweeps at once: each run is
    taken by a compare-and-set on its `resumes`, which also stops a worker that was only
    slow from acting on it again."""
    now = now or timezone.now()
    limit = now - STALL
    silent = BulkAction.objects.filter(state__in=_SILENT).filter(
        Q(heartbeat_at__lt=limit)
        | Q(heartbeat_at__isnull=True, resumed_at__lt=limit)
        | Q(heartbeat_at__isnull=True, resumed_at__isnull=True, created_at__lt=limit)
    )
    handled = 0
    for bulk in silent.order_by("pk"):
        taken = BulkAction.objects.filter(pk=bulk.pk, state=bulk.state, resumes=bulk.resumes)
        if bulk.resumes >= MAX_RESUMES:
            handled += _give_up(bulk, taken, now=now)
            continue
        with transaction.atomic():
            if taken.update(
                state=BulkAction.State.QUEUED,
                resumes=F("resumes") + 1,
                resumed_at=now,
                heartbeat_at=None,
            ):
                handled += 1
                transaction.on_commit(functools.partial(bulk_enqueue, bulk))
    return handled


def _give_up(bulk: BulkAction, taken: QuerySet[BulkAction], *, now: datetime) -> int:
    """Fail the jobs `bulk` has not worked through and finish it (a refresh that began
    goes on waiting for the engine to poll the jobs it did mark due). Taking it out of
    `running` is also what stops a worker that was only slow (it acts only while running)."""
    waits = bulk.action == BulkAction.Kind.REFRESH and bulk.started_at is not None
    state = BulkAction.State.WAITING if waits else BulkAction.State.DONE
    with transaction.atomic():
        if not taken.update(state=state, heartbeat_at=now):
            return 0  # another sweep took it
        bulk.refresh_from_db()
        rest = bulk.job_ids[bulk.position :]
        reason = GAVE_UP.format(stops=bulk.resumes + 1, resumes=bulk.resumes)
        bulk.detail["gave_up"] = reason
        if waits:
            bulk.detail["abandoned_ids"] = rest  # counted as failed by bulk_progress
        else:
            for pk in rest:
                bulk_fail_job(bulk, pk, reason)
            bulk.failed += len(rest)
        bulk.position = len(bulk.job_ids)
        BulkAction.objects.filter(pk=bulk.pk).update(
            position=bulk.position, failed=bulk.failed, detail=bulk.detail, moved_at=now
        )
        if not waits:
            bulk_finish(bulk)
    return 1
