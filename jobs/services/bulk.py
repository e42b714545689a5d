"""Bulk actions: one operator action on up to BULK_MAX jobs, run by a background task.

The request only resolves the selection, writes the BulkAction and its audit entry and
enqueues the task. The task acts in chunks, one UPDATE and one event INSERT per chunk
(never one service call per job), except cancel, which asks the providers through
`jobs_cancel` within each account's rate budget. A refresh only marks its jobs due: the
refresh engine polls them under its own rules (one poller per account, its rate budget),
and `bulk_progress` reads how far it got.

A run can stop anywhere (its worker killed, the host gone) and go on from where it got
to: it works through `job_ids` in order from `position`, and each chunk's writes to the
jobs commit together with its counts and the new position, so a resumed run never acts
twice on a settled job. jobs.services.bulk_recovery finds runs whose worker went silent.
"""

from __future__ import annotations

import functools
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from jobs.models import Account, BulkAction, Job, JobEvent
from jobs.providers.base import TERMINAL_STATES
from jobs.refresh.budget import RateBudget
from jobs.refresh.leases import account_lease_take, account_leases_release, owner_id
from jobs.refresh.shutdown import shutdown_wait
from jobs.selectors import JobFilters, job_filter
from jobs.services.audit import Action, Outcome, actor_label, audit_record
from jobs.services.bulk_state import (
    bulk_failures,
    bulk_finish,
    bulk_progress,
    bulk_summary,
    bulk_waiting_reason,
    chunks,
)
from jobs.services.cancel import cancel_refusal, jobs_cancel
from jobs.services.errors import InvalidInput

__all__ = [  # the reading half lives in bulk_state; callers use this module for both
    "bulk_failures",
    "bulk_progress",
    "bulk_summary",
    "bulk_waiting_reason",
]

BULK_MAX = 10_000
CANCEL_CHUNK = 200  # jobs per jobs_cancel call: one audit entry and one progress step each
LEASE_WAIT = 75.0  # seconds: a refresh loop holds an account for just under a minute
KEPT_MESSAGES = 1000  # failed jobs' messages kept in `detail`
BEAT_SECONDS = 10.0  # the heartbeat's write, at most this often while nothing else is written
# A cancel's worst case at the providers' default rates (5/s and up): 10,000 requests
# take 2,000 s, plus up to LEASE_WAIT per chunk of 200 for a loop to give the account
# back (3,750 s). Other actions take seconds and keep the cluster's 90 s.
CANCEL_TIMEOUT = 4 * 3600
Kind = BulkAction.Kind
DESTRUCTIVE = frozenset({Kind.STOP_WATCHING, Kind.CANCEL})
_ROW = ("pk", "state", "provider_state", "next_poll_at", "stopped_reason", "account")


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
    for chunk in chunks(codes):
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
    for chunk in chunks(job_ids, 2000):
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
        transaction.on_commit(lambda: bulk_enqueue(bulk))
    return bulk


def bulk_enqueue(bulk: BulkAction) -> None:
    """Hand a queued run to a worker (a first run, or one the sweep resumes)."""
    options: dict[str, Any] = {"task_name": f"bulk {bulk.pk}"}
    if bulk.action == Kind.CANCEL:
        options["timeout"] = CANCEL_TIMEOUT
    async_task("jobs.tasks.bulk_action_run", bulk.pk, **options)


# --- running ----------------------------------------------------------------------------


class Superseded(Exception):
    """The sweep handed this run to another worker (jobs.services.bulk_recovery): stop."""


def _mine(bulk: BulkAction) -> QuerySet[BulkAction]:
    """The run's row while this worker still owns it (the sweep bumps `resumes`)."""
    return BulkAction.objects.filter(
        pk=bulk.pk, state=BulkAction.State.RUNNING, resumes=bulk.resumes
    )


class Heartbeat:
    """Shows the sweep that the run's worker is alive while no count moves (waiting for a
    lease, pacing cancel requests): one UPDATE at most every BEAT_SECONDS."""

    def __init__(self, bulk: BulkAction) -> None:
        self.bulk = bulk
        self.last = time.monotonic()

    def __call__(self) -> bool:
        """Beat if due; False when the run is no longer this worker's."""
        if time.monotonic() - self.last < BEAT_SECONDS:
            return True
        self.last = time.monotonic()
        return bool(_mine(self.bulk).update(heartbeat_at=timezone.now()))


def bulk_action_run(*, bulk_id: int) -> None:
    """Run a queued bulk action from its `position` on: a first run, or one the sweep
    resumed. A second delivery of the task finds it taken and returns."""
    now = timezone.now()
    if not BulkAction.objects.filter(pk=bulk_id, state=BulkAction.State.QUEUED).update(
        state=BulkAction.State.RUNNING,
        started_at=Coalesce(F("started_at"), Value(now, output_field=DateTimeField())),
        moved_at=Coalesce(F("moved_at"), Value(now, output_field=DateTimeField())),
        heartbeat_at=now,
    ):
        return
    bulk = BulkAction.objects.select_related("user").get(pk=bulk_id)
    try:
        if bulk.action == Kind.REFRESH:
            _mark_due(bulk)
            return  # progress is read from the jobs as the engine polls them (bulk_progress)
        if bulk.action == Kind.CANCEL:
            _cancel(bulk)
        else:
            actor = actor_label(bulk.user, bulk.via)
            for chunk in chunks(bulk.job_ids, start=bulk.position):
                _watch_chunk(bulk, chunk, actor=actor)
    except Superseded:
        return  # the worker the sweep chose goes on from the position last committed
    bulk_finish(bulk)


def _step(
    bulk: BulkAction, *, worked: int, done: int = 0, failed: int = 0, skipped: int = 0
) -> None:
    """Add one chunk's outcome to the counts and move `position` past its `worked` jobs
    (also on the instance, for the summary). Call it in the chunk's transaction: raises
    Superseded, rolling the chunk back, when the run is no longer this worker's."""
    bulk.done, bulk.failed, bulk.skipped = (
        bulk.done + done,
        bulk.failed + failed,
        bulk.skipped + skipped,
    )
    bulk.position += worked
    now = timezone.now()
    if not _mine(bulk).update(
        done=F("done") + done,
        failed=F("failed") + failed,
        skipped=F("skipped") + skipped,
        position=F("position") + worked,
        moved_at=now,
        heartbeat_at=now,
        detail=bulk.detail,
    ):
        raise Superseded


def _skip(bulk: BulkAction, reasons: Iterable[str]) -> None:
    grouped = Counter(bulk.detail.get("skipped", {}))
    grouped.update(reasons)
    bulk.detail["skipped"] = dict(grouped)


def bulk_fail_job(bulk: BulkAction, job_id: int, message: str) -> None:
    """Keep `message` for a failed job in `detail` (the first KEPT_MESSAGES of them)."""
    failed = bulk.detail.setdefault("failed", {})
    if len(failed) < KEPT_MESSAGES:
        failed[str(job_id)] = message[:300]


GONE = "The job no longer exists."


def _watch_chunk(bulk: BulkAction, ids: list[int], *, actor: str) -> None:
    """Stop or resume watching one chunk: one UPDATE, one INSERT of timeline lines, and
    its counts, all in one transaction."""
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
    missing = len(ids) - len(jobs) - len(reasons)  # deleted since the action was asked
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
        _skip(bulk, reasons + [GONE] * missing)
        _step(bulk, worked=len(ids), done=len(jobs), skipped=len(reasons) + missing)


def _by_account(bulk: BulkAction) -> None:
    """Order a cancel's `job_ids` by account (newest first within each), once, before its
    first chunk: a chunk then never spans two accounts, and `position` stays one number."""
    account_of: dict[int, int] = {}
    for chunk in chunks(bulk.job_ids, 2000):
        account_of.update(Job.objects.filter(pk__in=chunk).values_list("pk", "account_id"))
    bulk.job_ids = sorted(bulk.job_ids, key=lambda pk: account_of.get(pk, 0))
    bulk.detail["by_account"] = True
    if not _mine(bulk).filter(position=0).update(job_ids=bulk.job_ids, detail=bulk.detail):
        raise Superseded


def _cancel_chunks(bulk: BulkAction) -> Iterator[list[int]]:
    """The rest of a cancel's jobs, at most CANCEL_CHUNK at a time, one account each."""
    rest = bulk.job_ids[bulk.position :]
    account_of: dict[int, int] = {}
    for chunk in chunks(rest, 2000):
        account_of.update(Job.objects.filter(pk__in=chunk).values_list("pk", "account_id"))
    for _, run in groupby(rest, key=lambda pk: account_of.get(pk, 0)):
        yield from chunks(list(run), CANCEL_CHUNK)


def _cancel(bulk: BulkAction) -> None:
    """Skip what cannot be cancelled; ask the rest per account, holding its lease (no poll
    at the same time) and within its rate budget, chunk by chunk. A chunk whose worker
    died between the provider's answers and its step is asked again on resume: its jobs
    were answered but not counted (the window is one database write)."""
    if bulk.position == 0 and not bulk.detail.get("by_account"):
        _by_account(bulk)
    owner = owner_id(f"bulk-cancel-{bulk.pk}")
    beat = Heartbeat(bulk)
    budgets: dict[int, RateBudget] = {}
    for chunk in _cancel_chunks(bulk):
        rows = _rows(chunk)
        reasons = [r for job in rows if (r := refusal(Kind.CANCEL, job))]
        asking = [job for job in rows if not refusal(Kind.CANCEL, job)]
        missing = len(chunk) - len(rows)
        _skip(bulk, reasons + [GONE] * missing)
        if not asking:
            _step(bulk, worked=len(chunk), skipped=len(reasons) + missing)
            continue
        account = Account.objects.get(pk=asking[0].account_id)
        budget = budgets.setdefault(account.pk, RateBudget(account.effective_rate_limit))
        requests = math.ceil(len(asking) / max(1, account.adapter_class.cancel_batch_size))
        seconds = requests / account.effective_rate_limit + 30
        if not _account_lease(account, owner=owner, seconds=seconds, beat=beat):
            for job in asking:
                bulk_fail_job(bulk, job.pk, "Not sent: the account stayed busy polling; ask again.")
            _step(bulk, worked=len(chunk), failed=len(asking), skipped=len(reasons) + missing)
            continue
        try:
            results = jobs_cancel(
                account=account,
                jobs=asking,
                user=bulk.user,
                via=bulk.via,
                pace=functools.partial(_paced, beat, budget),
            )
        finally:
            account_leases_release(owner=owner, account_id=account.pk)
        accepted = [r.job.pk for r in results if r.accepted]
        for result in results:
            if result.outcome in ("refused", "error"):
                bulk_fail_job(bulk, result.job.pk, result.message)
        _skip(bulk, [s.message for s in results if s.outcome == "skipped"])
        failed = sum(r.outcome in ("refused", "error") for r in results)
        skipped = len(reasons) + missing + sum(r.outcome == "skipped" for r in results)
        with transaction.atomic():
            # The provider's answer shows on the next poll: ask for it now.
            Job.objects.filter(pk__in=accepted, next_poll_at__isnull=False).update(
                next_poll_at=timezone.now()
            )
            _step(bulk, worked=len(chunk), done=len(accepted), failed=failed, skipped=skipped)


def _paced(beat: Callable[[], bool], budget: RateBudget) -> bool:
    """jobs_cancel's `pace`: beat, then wait for the next request's token."""
    return beat() and budget.take()


def _account_lease(
    account: Account, *, owner: str, seconds: float, beat: Callable[[], bool]
) -> bool:
    """Hold the account's lease as a poller does, waiting up to LEASE_WAIT for a refresh
    loop to give it back: cancel requests spend the same rate limit as its polls, so the
    two never ask at once. False when it stayed taken or the worker is stopping; raises
    Superseded when the run is no longer this worker's."""
    deadline = time.monotonic() + LEASE_WAIT
    while not account_lease_take(account_id=account.pk, owner=owner, seconds=seconds):
        if not beat():
            raise Superseded
        if time.monotonic() > deadline or shutdown_wait(1.0):
            return False
    return True


def _mark_due(bulk: BulkAction) -> None:
    """Mark a refresh's jobs due at the time it began (`started_at`, the same on resume);
    each poll moves its job's next_poll_at on, which is how `bulk_progress` counts it (a
    failed poll does not set last_polled_at). Chunk by chunk, each with its step."""
    began = bulk.started_at
    for chunk in chunks(bulk.job_ids, start=bulk.position):
        rows = _rows(chunk)
        reasons = {job.pk: r for job in rows if (r := refusal(Kind.REFRESH, job))}
        due = [job.pk for job in rows if job.pk not in reasons]
        found = {job.pk for job in rows}
        gone = [pk for pk in chunk if pk not in found]
        bulk.detail["skipped_ids"] = [*bulk.detail.get("skipped_ids", []), *reasons, *gone]
        _skip(bulk, [*reasons.values(), *[GONE] * len(gone)])
        with transaction.atomic():
            Job.objects.filter(pk__in=due, next_poll_at__isnull=False).update(next_poll_at=began)
            _step(bulk, worked=len(chunk), skipped=len(reasons) + len(gone))
    if not _mine(bulk).update(state=BulkAction.State.WAITING):
        raise Superseded
    bulk.state = BulkAction.State.WAITING
    if bulk.skipped == bulk.total:
        bulk_finish(bulk)
