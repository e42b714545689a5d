"""Tracking task IDs: at once with verification (API, CLI, Submit), or as a pasted batch
the refresh engine verifies on each job's first poll (the Track page).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import http
from jobs.models import Account, Job, TrackBatch, TrackItem
from jobs.providers.base import JobStatus, ProviderError
from jobs.services.accounts import account_record_ok, account_request_failed
from jobs.services.audit import Action, Outcome, Via, audit_record
from jobs.services.errors import InvalidInput
from jobs.services.status import job_apply_status
from jobs.services.verification import PENDING

_ID_SEPARATORS = re.compile(r"[\s,;]+")


def parse_external_ids(text: str) -> list[str]:
    """Task IDs pasted one per line, or separated by commas or spaces; duplicates dropped."""
    seen: dict[str, None] = {}
    for part in _ID_SEPARATORS.split(text):
        if part:
            seen.setdefault(part, None)
    return list(seen)


@dataclass(frozen=True)
class TrackResult:
    external_id: str
    outcome: str  # "tracked" | "already tracked" | "not found" | "error"
    job: Job | None = None
    message: str = ""


def job_track(
    *,
    account: Account,
    external_ids: Iterable[str],
    verify: bool = False,
    user: Any = None,
    via: str = "",
) -> list[TrackResult]:
    """Start watching task IDs on an account; ids already watched are reported, not duplicated.
    Results come in the order the ids were given.

    With `verify`, each new id is first asked of the provider (in batches where the API
    takes them): found ids are tracked with their current status, unknown ones reported as
    not found, and a failed request reported as an error for its ids only. The account's
    health records the outcome like a poll's; after a credential or throttling failure no
    further requests are sent, and the remaining ids get that error.

    With `via` (an operator's request: API, command line), the call is in the audit log.
    """
    results: dict[str, TrackResult] = {}
    wanted = []
    pasted = list(dict.fromkeys(i.strip() for i in external_ids))
    for external_id in pasted:
        if not external_id:
            continue
        if len(external_id) > 255:
            results[external_id] = TrackResult(
                external_id[:40] + "…", "error", message="ID is too long"
            )
        else:
            wanted.append(external_id)
    existing = {
        job.external_id: job for job in Job.objects.filter(account=account, external_id__in=wanted)
    }
    for external_id, job in existing.items():
        results[external_id] = TrackResult(external_id, "already tracked", job)
    new = [i for i in wanted if i not in existing]
    statuses: dict[str, JobStatus | ProviderError] = {}
    if verify and new:
        adapter = account.adapter()
        answered = False
        # A request that verifies must end well inside a web worker's timeout, whatever the
        # provider's pace: IDs left when time runs out are watched unverified (the first
        # poll checks them), so nothing pasted is lost.
        until = time.monotonic() + TRACK_VERIFY_SECONDS
        for start in range(0, len(new), adapter.batch_size):
            if time.monotonic() >= until:
                break
            batch = new[start : start + adapter.batch_size]
            try:
                with http.deadline_by(until):
                    statuses.update(adapter.fetch(batch))
            except ProviderError as error:
                if not error.permanent and time.monotonic() >= until:
                    break  # cut by our own deadline: this batch is left to the first poll too
                if error.is_not_found:
                    statuses.update(dict.fromkeys(batch, error))
                    continue
                # The account's failure like a failed poll's, and (for credentials or
                # throttling) no more requests: Huawei locks a key after five bad ones.
                if account_request_failed(account_id=account.pk, error=error):
                    statuses.update(dict.fromkeys(new[start:], error))
                    break
                statuses.update(dict.fromkeys(batch, error))
            else:
                answered = True
        if answered:
            account_record_ok(account_id=account.pk)
    for external_id in new:
        outcome = statuses.get(external_id)
        if isinstance(outcome, ProviderError):
            kind = "not found" if outcome.is_not_found else "error"
            results[external_id] = TrackResult(external_id, kind, message=str(outcome))
            continue
        asked_at = timezone.now()
        job, created = Job.objects.get_or_create(account=account, external_id=external_id)
        if isinstance(outcome, JobStatus) and created:
            job_apply_status(job_id=job.pk, status=outcome, asked_at=asked_at)
            job.refresh_from_db()
        results[external_id] = TrackResult(
            external_id, "tracked" if created else "already tracked", job
        )
    ordered = [results[external_id] for external_id in pasted if external_id in results]
    if via:
        _audit_track(account, ordered, user=user, via=via)
    return ordered


def _audit_track(account: Account, results: list[TrackResult], *, user: Any, via: str) -> None:
    outcomes: dict[str, int] = {}
    for result in results:
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    tracked = outcomes.get("tracked", 0)
    audit_record(
        user=user,
        via=via,
        action=Action.TRACK,
        outcome=Outcome.DONE if tracked == len(results) else Outcome.PARTIAL,
        summary=f"Tracked {tracked} of {len(results)} task IDs on {account.name}",
        account=account,
        jobs=[r.job for r in results if r.job is not None and r.outcome == "tracked"],
        detail={"outcomes": outcomes},
    )


# At most this many task IDs per paste on the Track page and per API track request.
TRACK_MAX_IDS = 500

# How long one verifying track call (API, `manage.py track`) may spend asking the provider.
TRACK_VERIFY_SECONDS = 25.0
TRACK_BATCH_KEPT = timedelta(days=7)


def track_batch_create(
    *, account: Account, external_ids: Iterable[str], user: Any = None, via: str = Via.WEB
) -> TrackBatch:
    """Record a paste of task IDs and start watching the new ones at once, unverified.

    Nothing is asked of the provider here, so the request stays fast whatever the
    account's rate limit: each new job is due now, and the refresh engine's first poll of
    it — within the account's rate budget, like any poll — verifies it. A found job stays
    tracked; one the provider does not know, or whose check fails, is removed again and
    reported on its item, as `job_track(verify=True)` does (see
    `verification.track_refuse`). IDs already watched are "already tracked". Raises
    InvalidInput for no IDs, more than TRACK_MAX_IDS, or an ID over 255 characters;
    nothing is saved then.
    """
    ids = list(dict.fromkeys(i.strip() for i in external_ids if i.strip()))
    if not ids:
        raise InvalidInput("no task IDs")
    if len(ids) > TRACK_MAX_IDS:
        raise InvalidInput(f"{len(ids)} task IDs; at most {TRACK_MAX_IDS} at once")
    if too_long := next((i for i in ids if len(i) > 255), None):
        raise InvalidInput(f"task ID {too_long[:40]}… is longer than 255 characters")
    with transaction.atomic():
        # A paste's page is worth keeping for a while, not forever (500 rows each).
        TrackBatch.objects.filter(created_at__lt=timezone.now() - TRACK_BATCH_KEPT).delete()
        batch = TrackBatch.objects.create(account=account, created_by=user)
        existing = dict(
            Job.objects.filter(account=account, external_id__in=ids).values_list(
                "external_id", "pk"
            )
        )
        created = _jobs_create(account, [i for i in ids if i not in existing], existing)
        # A job still waiting for its first check (pasted twice) is pending here too.
        unverified = set(
            TrackItem.objects.filter(job_id__in=existing.values(), outcome=PENDING).values_list(
                "job_id", flat=True
            )
        )
        TrackItem.objects.bulk_create(
            TrackItem(
                batch=batch,
                position=position,
                external_id=external_id,
                job_id=created.get(external_id) or existing[external_id],
                outcome=(
                    PENDING
                    if external_id in created or existing[external_id] in unverified
                    else TrackItem.Outcome.ALREADY
                ),
            )
            for position, external_id in enumerate(ids)
        )
        audit_record(
            user=user,
            via=via,
            action=Action.TRACK,
            outcome=Outcome.REQUESTED,
            summary=f"Pasted {len(ids)} task IDs on {account.name} ({len(created)} new)",
            account=account,
            jobs=created.values(),
            detail={"batch": str(batch.code), "ids": len(ids), "new": len(created)},
        )
    return batch


def _jobs_create(account: Account, new: list[str], existing: dict[str, int]) -> dict[str, int]:
    """Create jobs for `new` ids; returns {id: pk} of those created. Ids another request
    created meanwhile are added to `existing` instead."""
    try:
        with transaction.atomic():
            jobs = Job.objects.bulk_create(Job(account=account, external_id=i) for i in new)
        return {job.external_id: job.pk for job in jobs}
    except IntegrityError:
        created: dict[str, int] = {}
        for external_id in new:
            job, made = Job.objects.get_or_create(account=account, external_id=external_id)
            (created if made else existing)[external_id] = job.pk
        return created


def track_batch_track_anyway(*, batch: TrackBatch) -> int:
    """Watch a batch's IDs whose check failed (provider unreachable, ...) without
    verifying them now: their jobs are due at once and verified by their next poll like
    any watched job. Returns how many were tracked."""
    items = list(batch.items.filter(outcome=TrackItem.Outcome.ERROR))
    results = {
        r.external_id: r
        for r in job_track(account=batch.account, external_ids=[i.external_id for i in items])
    }
    tracked = 0
    for item in items:
        result = results.get(item.external_id)
        if result is None or result.job is None:
            continue
        tracked += TrackItem.objects.filter(pk=item.pk, outcome=TrackItem.Outcome.ERROR).update(
            outcome=TrackItem.Outcome.ANYWAY,
            job=result.job,
            message="Watched without a check; the next poll verifies it.",
        )
    return tracked


@dataclass(frozen=True)
class TrackProgress:
    """Where a batch stands: its items in paste order and how many have each outcome."""

    batch: TrackBatch
    items: list[TrackItem]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def pending(self) -> int:
        return self.counts.get(PENDING, 0)

    @property
    def checked(self) -> int:
        return self.total - self.pending

    @property
    def done(self) -> bool:
        return not self.pending

    @property
    def percent(self) -> int:
        return round(100 * self.checked / self.total) if self.total else 100

    @property
    def errors(self) -> int:
        return self.counts.get(TrackItem.Outcome.ERROR, 0)

    @property
    def summary(self) -> str:
        """E.g. "412 tracked, 3 already tracked, 85 not found"."""
        parts = [
            f"{self.counts[outcome]} {label}"
            for outcome, label in TrackItem.Outcome.choices
            if outcome != PENDING and self.counts.get(outcome)
        ]
        return ", ".join(parts)


def track_batch_progress(*, batch: TrackBatch) -> TrackProgress:
    items = list(batch.items.select_related("job").order_by("position"))
    counts: dict[str, int] = {}
    for item in items:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    return TrackProgress(batch, items, counts)
