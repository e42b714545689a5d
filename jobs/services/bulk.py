"""Bulk actions: one operator action on up to BULK_MAX jobs, run by a background task.

The request only resolves the selection, writes the BulkAction and its audit entry and
enqueues the task. The task acts in chunks, one UPDATE and one event INSERT per chunk
(never one service call per job), except cancel, which asks the providers through
`jobs_cancel` within each account's rate budget. A refresh only marks its jobs due: the
refresh engine polls them under its own rules (one poller per account, its rate budget),
and `bulk_progress` reads how far it got.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django_q.tasks import async_task

from jobs.models import Account, BulkAction, Job, JobEvent
from jobs.providers.base import TERMINAL_STATES
from jobs.refresh.budget import RateBudget
from jobs.refresh.leases import account_lease_take, account_leases_release, owner_id
from jobs.refresh.shutdown import shutdown_wait
from jobs.selectors import JobFilters, job_filter
from jobs.services.audit import Action, Outcome, actor_label, audit_record, audit_settle
from jobs.services.cancel import cancel_refusal, jobs_cancel
from jobs.services.errors import InvalidInput

BULK_MAX = 10_000
CHUNK = 500
CANCEL_CHUNK = 200  # jobs per jobs_cancel call: one audit entry and one progress step each
LEASE_WAIT = 75.0  # seconds: a refresh loop holds an account for just under a minute
KEPT_MESSAGES = 1000  # failed jobs' messages kept in `detail`
Kind = BulkAction.Kind
DESTRUCTIVE = frozenset({Kind.STOP_WATCHING, Kind.CANCEL})
T = TypeVar("T")
_ROW = ("pk", "state", "provider_state", "next_poll_at", "stopped_reason", "account")


def _chunks(ids: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# --- the selection ----------------------------------------------------------------------


def bulk_ids_of_codes(codes: Iterable[str]) -> list[int]:
    """The ids of the jobs with these codes (unknown codes are left out), in list order.
    Raises InvalidInput for none or more than BULK_MAX."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        raise InvalidInput("Select at least one job.")
    if len(codes) > BULK_MAX:
        raise InvalidInput(
            f"{len(codes):,} jobs selected; a bulk action takes at most {BULK_MAX:,}."
        )
    ids: list[int] = []
    for chunk in _chunks(codes):
        ids += Job.objects.filter(code__in=chunk).values_list("pk", flat=True)
    if not ids:
        raise InvalidInput("None of the selected jobs exists any more.")
    return sorted(ids, reverse=True)


def bulk_ids_of_filter(filters: JobFilters) -> list[int]:
    """The ids of every job the list shows under `filters`, newest first, resolved now.
    Raises InvalidInput when none or more than BULK_MAX match (nothing is done then)."""
    jobs = job_filter(Job.objects.all(), filters).order_by("-tracked_at", "-id")
    ids = list(jobs.values_list("pk", flat=True)[: BULK_MAX + 1])
    if not ids:
        raise InvalidInput("No job matches this filter.")
    if len(ids) > BULK_MAX:
        raise InvalidInput(
            f"More than {BULK_MAX:,} jobs match this filter; a bulk action takes at most "
            f"{BULK_MAX:,}. Narrow the filter (an account, a state, a date range) and try again."
        )
    return ids


def refusal(action: str, job: Job) -> str:
    """Why `action` would leave `job` alone ("" when it acts on it)."""
    if action == Kind.CANCEL:
        return cancel_refusal(job)
    if job.is_terminal:
        return f"The job has already {job.state}; it is not polled."
    watched = job.next_poll_at is not None
    if action == Kind.REFRESH and not watched:
        return "Not watched: watch it again to refresh it."
    if action == Kind.REFRESH and not job.account.enabled:
        return f"The account {job.account.name} is disabled."
    if action == Kind.STOP_WATCHING and not watched:
        return "Already not watched."
    if action == Kind.WATCH_AGAIN and watched and not job.stopped_reason:
        return "Already watched."
    return ""


def _rows(ids: Sequence[int]) -> list[Job]:
    jobs = Job.objects.filter(pk__in=list(ids)).select_related("account")
    return list(jobs.only(*_ROW, "account__provider", "account__enabled", "account__name"))


def bulk_preview(*, action: str, job_ids: Sequence[int]) -> Counter[str]:
    """How many of `job_ids` `action` would skip, by reason (for the confirmation)."""
    reasons: Counter[str] = Counter()
    for chunk in _chunks(job_ids, 2000):
        reasons.update(r for job in _rows(chunk) if (r := refusal(action, job)))
    return reasons


# --- asking -----------------------------------------------------------------------------


def bulk_action_create(*, user: Any, via: str, action: str, job_ids: Sequence[int]) -> BulkAction:
    """Record the action and its audit entry ("requested"), and enqueue its task after
    the commit. Raises InvalidInput for an unknown action or a selection out of bounds."""
    if action not in Kind.values:
        raise InvalidInput(f"Unknown bulk action {str(action)[:40]!r}.")
    if not job_ids or len(job_ids) > BULK_MAX:
        raise InvalidInput(f"A bulk action takes 1 to {BULK_MAX:,} jobs.")
    label = Kind(action).label
    with transaction.atomic():
        entry = audit_record(
            user=user,
            via=via,
            action=Action.BULK,
            outcome=Outcome.REQUESTED,
            summary=f"Bulk {label.lower()} of {len(job_ids):,} jobs requested",
            jobs=job_ids,
            detail={"action": action},
        )
        bulk = BulkAction.objects.create(
            user=user if getattr(user, "is_authenticated", False) else None,
            via=via,
            action=action,
            job_ids=list(job_ids),
            total=len(job_ids),
            audit=entry,
        )
        entry.detail["bulk"] = str(bulk.code)
        entry.save(update_fields=["detail"])
        transaction.on_commit(
            lambda: async_task("jobs.tasks.bulk_action_run", bulk.pk, task_name=f"bulk {bulk.pk}")
        )
    return bulk


# --- running ----------------------------------------------------------------------------


def bulk_action_run(*, bulk_id: int) -> None:
    """Run a queued bulk action (a second delivery of the task finds it taken and returns)."""
    now = timezone.now()
    if not BulkAction.objects.filter(pk=bulk_id, state=BulkAction.State.QUEUED).update(
        state=BulkAction.State.RUNNING, started_at=now, moved_at=now
    ):
        return
    bulk = BulkAction.objects.select_related("user").get(pk=bulk_id)
    actor = actor_label(bulk.user, bulk.via)
    if bulk.action == Kind.REFRESH:
        _mark_due(bulk, began=now)
        return  # progress is read from the jobs as the engine polls them (bulk_progress)
    if bulk.action == Kind.CANCEL:
        _cancel(bulk)
    else:
        for chunk in _chunks(bulk.job_ids):
            _watch_chunk(bulk, chunk, actor=actor)
    _finish(bulk)


def _step(bulk: BulkAction, *, done: int = 0, failed: int = 0, skipped: int = 0) -> None:
    """Add one chunk's outcome to the counts (also on the instance, for the summary)."""
    bulk.done, bulk.failed, bulk.skipped = (
        bulk.done + done,
        bulk.failed + failed,
        bulk.skipped + skipped,
    )
    BulkAction.objects.filter(pk=bulk.pk).update(
        done=F("done") + done,
        failed=F("failed") + failed,
        skipped=F("skipped") + skipped,
        moved_at=timezone.now(),
        detail=bulk.detail,
    )


def _skip(bulk: BulkAction, reasons: Iterable[str]) -> None:
    grouped = Counter(bulk.detail.get("skipped", {}))
    grouped.update(reasons)
    bulk.detail["skipped"] = dict(grouped)


def _fail(bulk: BulkAction, job_id: int, message: str) -> None:
    failed = bulk.detail.setdefault("failed", {})
    if len(failed) < KEPT_MESSAGES:
        failed[str(job_id)] = message[:300]


def _watch_chunk(bulk: BulkAction, ids: list[int], *, actor: str) -> None:
    """Stop or resume watching one chunk: one UPDATE, one INSERT of timeline lines."""
    jobs, reasons = [], []
    for job in _rows(ids):
        if reason := refusal(bulk.action, job):
            reasons.append(reason)
        else:
            jobs.append(job)
    now = timezone.now()
    if bulk.action == Kind.STOP_WATCHING:
        note = f"Stopped watching by {actor} (bulk action)"
        fields: dict[str, Any] = dict(next_poll_at=None, stopped_reason=note)
    else:
        note = f"Watching again, at the request of {actor} (bulk action)"
        fields = dict(next_poll_at=now, stopped_reason="", poll_errors=0)
    with transaction.atomic():
        changed = Job.objects.filter(pk__in=[j.pk for j in jobs]).exclude(state__in=TERMINAL_STATES)
        changed.update(**fields, version=F("version") + 1)
        JobEvent.objects.bulk_create(
            JobEvent(
                job_id=job.pk,
                at=now,
                state=job.state,
                provider_state=job.provider_state,
                kind=JobEvent.Kind.ACTION,
                note=note[:255],
            )
            for job in jobs
        )
    missing = len(ids) - len(jobs) - len(reasons)  # deleted since the action was asked
    _skip(bulk, reasons + ["The job no longer exists."] * missing)
    _step(bulk, done=len(jobs), skipped=len(reasons) + missing)


def _cancel(bulk: BulkAction) -> None:
    """Skip what cannot be cancelled; ask the rest per account, holding its lease (no poll
    at the same time) and within its rate budget."""
    by_account: dict[int, list[Job]] = {}
    for chunk in _chunks(bulk.job_ids):
        rows = _rows(chunk)
        reasons = [r for job in rows if (r := refusal(Kind.CANCEL, job))]
        for job in rows:
            if not refusal(Kind.CANCEL, job):
                by_account.setdefault(job.account_id, []).append(job)
        missing = len(chunk) - len(rows)
        _skip(bulk, reasons + ["The job no longer exists."] * missing)
        _step(bulk, skipped=len(reasons) + missing)
    owner = owner_id(f"bulk-cancel-{bulk.pk}")
    for account_id, jobs in by_account.items():
        account = Account.objects.get(pk=account_id)
        budget = RateBudget(account.effective_rate_limit)
        for start in range(0, len(jobs), CANCEL_CHUNK):
            chunk = jobs[start : start + CANCEL_CHUNK]
            requests = math.ceil(len(chunk) / max(1, account.adapter_class.cancel_batch_size))
            seconds = requests / account.effective_rate_limit + 30
            if not _account_lease(account, owner=owner, seconds=seconds):
                for job in chunk:
                    _fail(bulk, job.pk, "Not sent: the account stayed busy polling; ask again.")
                _step(bulk, failed=len(chunk))
                continue
            try:
                results = jobs_cancel(
                    account=account, jobs=chunk, user=bulk.user, via=bulk.via, pace=budget.take
                )
            finally:
                account_leases_release(owner=owner, account_id=account.pk)
            accepted = [r.job.pk for r in results if r.accepted]
            # The provider's answer shows on the next poll: ask for it now.
            Job.objects.filter(pk__in=accepted, next_poll_at__isnull=False).update(
                next_poll_at=timezone.now()
            )
            for result in results:
                if result.outcome in ("refused", "error"):
                    _fail(bulk, result.job.pk, result.message)
            _skip(bulk, [s.message for s in results if s.outcome == "skipped"])
            failed = sum(r.outcome in ("refused", "error") for r in results)
            skipped = sum(r.outcome == "skipped" for r in results)
            _step(bulk, done=len(accepted), failed=failed, skipped=skipped)


def _account_lease(account: Account, *, owner: str, seconds: float) -> bool:
    """Hold the account's lease as a poller does, waiting up to LEASE_WAIT for a refresh
    loop to give it back: cancel requests spend the same rate limit as its polls, so the
    two never ask at once. False when it stayed taken or the worker is stopping."""
    deadline = time.monotonic() + LEASE_WAIT
    while not account_lease_take(account_id=account.pk, owner=owner, seconds=seconds):
        if time.monotonic() > deadline or shutdown_wait(1.0):
            return False
    return True


def _mark_due(bulk: BulkAction, *, began: datetime) -> None:
    """Mark a refresh's jobs due at `began`; each poll moves its job's next_poll_at on,
    which is how `bulk_progress` counts it (a failed poll does not set last_polled_at)."""
    skipped_ids: list[int] = []
    for chunk in _chunks(bulk.job_ids):
        rows = _rows(chunk)
        reasons = {job.pk: r for job in rows if (r := refusal(Kind.REFRESH, job))}
        due = [job.pk for job in rows if job.pk not in reasons]
        Job.objects.filter(pk__in=due, next_poll_at__isnull=False).update(next_poll_at=began)
        found = {job.pk for job in rows}
        gone = [pk for pk in chunk if pk not in found]
        skipped_ids += [*reasons, *gone]
        _skip(bulk, [*reasons.values(), *["The job no longer exists."] * len(gone)])
    bulk.detail["skipped_ids"] = skipped_ids
    BulkAction.objects.filter(pk=bulk.pk).update(
        state=BulkAction.State.WAITING, skipped=len(skipped_ids), detail=bulk.detail
    )
    bulk.skipped, bulk.state = len(skipped_ids), BulkAction.State.WAITING
    if len(skipped_ids) == bulk.total:
        _finish(bulk)


def _finish(bulk: BulkAction) -> None:
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


# --- reading how far it got -------------------------------------------------------------

_PAST = {
    Kind.REFRESH: "refreshed",
    Kind.STOP_WATCHING: "no longer watched",
    Kind.WATCH_AGAIN: "watched again",
    Kind.CANCEL: "cancel accepted",
}


def bulk_summary(bulk: BulkAction) -> str:
    """ "1,204 refreshed, 3 failed, 12 skipped" (what is settled so far)."""
    parts = [f"{bulk.done:,} {_PAST[Kind(bulk.action)]}"]
    parts += [
        f"{n:,} {word}" for n, word in ((bulk.failed, "failed"), (bulk.skipped, "skipped")) if n
    ]
    return ", ".join(parts)


def _refresh_ids(bulk: BulkAction) -> list[int]:
    skipped = set(bulk.detail.get("skipped_ids", []))
    return [pk for pk in bulk.job_ids if pk not in skipped]


def bulk_progress(*, bulk: BulkAction) -> BulkAction:
    """`bulk` with its counts up to date: a waiting refresh counts its jobs the engine has
    polled since it began (done) or whose poll failed since (failed), and is done when none
    is still due from it. Other actions' counts are written by their task as it goes."""
    if bulk.state != BulkAction.State.WAITING or bulk.started_at is None:
        return bulk
    began, done, failed = bulk.started_at, 0, 0
    for chunk in _chunks(_refresh_ids(bulk), 2000):
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
        _finish(bulk)
    return bulk


def bulk_waiting_reason(bulk: BulkAction, *, stall_seconds: int = 30) -> str:
    """Why an action is not moving, when we know ("" otherwise): its task has not
    started, or a refresh's accounts are disabled, paused, or not being polled at all."""
    now = timezone.now()
    if bulk.state == BulkAction.State.QUEUED:
        waited = (now - bulk.created_at).total_seconds()
        if waited > stall_seconds:
            return (
                f"Not started in {int(waited)} s: the background worker may not be running "
                "(manage.py qcluster)."
            )
        return ""
    if bulk.state != BulkAction.State.WAITING or bulk.moved_at is None:
        return ""
    account_ids: set[int] = set()
    for chunk in _chunks(_refresh_ids(bulk), 2000):
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
    if bulk.action == Kind.REFRESH:
        failed_ids = _refresh_ids(bulk)
        began = bulk.started_at
    else:
        messages = bulk.detail.get("failed", {})
        failed_ids, began = [int(pk) for pk in messages], None
    found: list[tuple[Job, str]] = []
    for chunk in _chunks(failed_ids, 2000):
        jobs = (
            Job.objects.filter(pk__in=chunk).select_related("account").defer("account__credentials")
        )
        if began is not None:
            jobs = jobs.filter(poll_errors__gt=0).exclude(next_poll_at=began)
        for job in jobs.order_by("-tracked_at", "-id"):
            message = job.last_poll_error if began else bulk.detail["failed"][str(job.pk)]
            found.append((job, message))
        if len(found) >= limit:
            break
    return found[:limit]
