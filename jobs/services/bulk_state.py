"""What a bulk action's counts say: its summary, how far a refresh got, why it is not
moving, the jobs it failed on, and settling it (state, audit entry) once it is done.

The running (jobs.services.bulk) and the recovery of a run whose worker went silent
(jobs.services.bulk_recovery) both end a run here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from django.db.models import Count, Q
from django.utils import timezone

from jobs.models import Account, BulkAction, Job
from jobs.services.audit import Outcome, audit_settle

Kind = BulkAction.Kind
CHUNK = 500
T = TypeVar("T")

_PAST = {
    Kind.REFRESH: "refreshed",
    Kind.STOP_WATCHING: "no longer watched",
    Kind.WATCH_AGAIN: "watched again",
    Kind.CANCEL: "cancel accepted",
}


def chunks(ids: Sequence[T], size: int = CHUNK, *, start: int = 0) -> Iterator[list[T]]:
    """`ids` from `start` on, `size` at a time."""
    for at in range(start, len(ids), size):
        yield list(ids[at : at + size])


def bulk_finish(bulk: BulkAction) -> None:
    """Mark `bulk` done and settle its audit entry from its counts."""
    now = timezone.now()
    BulkAction.objects.filter(pk=bulk.pk).update(state=BulkAction.State.DONE, finished_at=now)
    bulk.state, bulk.finished_at = BulkAction.State.DONE, now
    if bulk.audit_id is not None:
        if bulk.done == bulk.total:
            outcome = Outcome.DONE
        elif bulk.done:
            outcome = Outcome.PARTIAL
        else:
            outcome = Outcome.REFUSED if bulk.skipped else Outcome.FAILED
        audit_settle(entry_id=bulk.audit_id, outcome=outcome, summary=bulk_summary(bulk))


def bulk_summary(bulk: BulkAction) -> str:
    """ "1,204 refreshed, 3 failed, 12 skipped" (what is settled so far)."""
    parts = [f"{bulk.done:,} {_PAST[Kind(bulk.action)]}"]
    parts += [
        f"{n:,} {word}" for n, word in ((bulk.failed, "failed"), (bulk.skipped, "skipped")) if n
    ]
    return ", ".join(parts)


def _refresh_ids(bulk: BulkAction) -> list[int]:
    """A refresh's jobs marked due (neither skipped nor abandoned by the sweep)."""
    left_out = set(bulk.detail.get("skipped_ids", [])) | set(bulk.detail.get("abandoned_ids", []))
    return [pk for pk in bulk.job_ids if pk not in left_out]


def bulk_progress(*, bulk: BulkAction) -> BulkAction:
    """`bulk` with its counts up to date: a waiting refresh counts its jobs the engine has
    polled since it began (done) or whose poll failed since (failed, with the jobs the
    sweep gave up marking), and is done when none is still due from it. Other actions'
    counts are written by their task as it goes."""
    if bulk.state != BulkAction.State.WAITING or bulk.started_at is None:
        return bulk
    began, done, failed = bulk.started_at, 0, len(bulk.detail.get("abandoned_ids", []))
    for chunk in chunks(_refresh_ids(bulk), 2000):
        settled = Job.objects.filter(pk__in=chunk).filter(
            Q(next_poll_at__isnull=True) | ~Q(next_poll_at=began)
        )
        counts = settled.aggregate(
            ok=Count("pk", filter=Q(poll_errors=0)), bad=Count("pk", filter=Q(poll_errors__gt=0))
        )
        done, failed = done + counts["ok"], failed + counts["bad"]
    if (done, failed) != (bulk.done, bulk.failed):
        bulk.done, bulk.failed, bulk.moved_at = done, failed, timezone.now()
        BulkAction.objects.filter(pk=bulk.pk).update(
            done=done, failed=failed, moved_at=bulk.moved_at
        )
    if bulk.settled >= bulk.total:
        bulk_finish(bulk)
    return bulk


def bulk_waiting_reason(bulk: BulkAction, *, stall_seconds: int = 30) -> str:
    """Why an action is not moving, when we know ("" otherwise): its task has not
    started, its worker has gone quiet, or a refresh's accounts are disabled, paused, or
    not being polled at all."""
    now = timezone.now()
    if bulk.state == BulkAction.State.QUEUED:
        waited = (now - (bulk.resumed_at or bulk.created_at)).total_seconds()
        if waited > stall_seconds:
            return (
                f"Not started in {int(waited)} s: the background worker may not be running "
                "(manage.py qcluster)."
            )
        return ""
    if bulk.state == BulkAction.State.RUNNING and bulk.heartbeat_at is not None:
        # A worker beats at least every ~65 s (bulk_recovery.STALL says why); twice that
        # is worth saying before the sweep acts.
        quiet = (now - bulk.heartbeat_at).total_seconds()
        if quiet > 2 * 65:
            return (
                f"No sign of its worker for {int(quiet)} s: if it stopped, the run is "
                "resumed from where it got to after 5 minutes."
            )
        return ""
    if bulk.state != BulkAction.State.WAITING or bulk.moved_at is None:
        return ""
    account_ids: set[int] = set()
    for chunk in chunks(_refresh_ids(bulk), 2000):
        pending = Job.objects.filter(pk__in=chunk, next_poll_at=bulk.started_at)
        account_ids.update(pending.values_list("account_id", flat=True).distinct())
    held = Account.objects.filter(pk__in=account_ids).order_by("name").only("name", "enabled")
    if names := [a.name for a in held.filter(enabled=False)]:
        return f"Disabled, so never polled: {', '.join(names[:5])}; enable them in the admin."
    if names := [a.name for a in held.filter(retry_at__gt=now)]:
        return f"Paused after errors, so not polled yet: {', '.join(names[:5])}."
    still = (now - bulk.moved_at).total_seconds()
    if still > stall_seconds:
        return (
            f"No job polled in {int(still)} s: the refresh worker may not be running "
            "(manage.py qcluster)."
        )
    return ""


def bulk_failures(*, bulk: BulkAction, limit: int = 500) -> list[tuple[Job, str]]:
    """The jobs the action failed on, with each one's error, newest first."""
    messages: dict[str, str] = dict(bulk.detail.get("failed", {}))
    if bulk.action == Kind.REFRESH:
        abandoned = bulk.detail.get("abandoned_ids", [])
        messages |= {str(pk): bulk.detail.get("gave_up", "") for pk in abandoned}
        failed_ids, began = _refresh_ids(bulk) + abandoned, bulk.started_at
    else:
        failed_ids, began = [int(pk) for pk in messages], None
    found: list[tuple[Job, str]] = []
    for chunk in chunks(failed_ids, 2000):
        jobs = (
            Job.objects.filter(pk__in=chunk).select_related("account").defer("account__credentials")
        )
        if began is not None:
            jobs = jobs.filter(
                Q(pk__in=[pk for pk in chunk if str(pk) in messages])
                | Q(poll_errors__gt=0) & ~Q(next_poll_at=began)
            )
        for job in jobs.order_by("-tracked_at", "-id"):
            message = messages.get(str(job.pk)) or job.last_poll_error
            found.append((job, message))
        if len(found) >= limit:
            break
    return found[:limit]
