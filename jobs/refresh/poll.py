"""One request about a batch of jobs, and everything its answer means for them.

The refresh loop and "Refresh now" both poll through `poll_batch` (callers outside the
loops through `poll_counted`, which also counts the request): it asks the provider,
stores every answer, records a failed request on the account or its jobs, and hands back
a `Polled` for the caller's own counts and pacing. It writes the database only, never
the caller's in-memory state, so it is safe on any worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from jobs import services
from jobs.models import Account
from jobs.providers.base import JobStatus, Provider, ProviderError
from jobs.refresh.budget import RateBudget
from jobs.services import usage

# One logger for the whole engine: bench/refresh.py (through bench/refresh_pass.py) counts the failed requests in a
# cluster's log by "WARNING jobs.refresh <account name>: ".
log = logging.getLogger("jobs.refresh")


@dataclass(frozen=True)
class Leased:
    """An account whose lease the caller holds, with what polling it needs."""

    account_id: int
    name: str
    adapter: Provider
    budget: RateBudget
    # Who holds the lease, for writes that must not outlive it (account_lease_keep).
    owner: str = ""

    @classmethod
    def of(cls, account: Account, *, owner: str | None = None) -> Leased:
        """`owner` defaults to the holder `account` names: the loop reads the row just
        after taking its lease."""
        return cls(
            account_id=account.pk,
            name=account.name,
            adapter=account.adapter(),
            budget=RateBudget(account.effective_rate_limit),
            owner=account.lease_owner if owner is None else owner,
        )


@dataclass(frozen=True)
class Polled:
    """What one request did. `seconds` is how long the provider took to answer or fail
    (None when our adapter failed, which says nothing about the provider's pace)."""

    seconds: float | None
    jobs: int = 0
    changed: int = 0
    error: ProviderError | None = None
    # Set when the whole account must wait this many seconds (throttled, refused).
    back_off: float | None = None


@dataclass(frozen=True)
class Answer:
    """What the provider answered about a batch of jobs, not yet stored."""

    ids: Mapping[str, int]
    results: Mapping[str, JobStatus | ProviderError]
    asked_at: datetime
    seconds: float


def poll_batch(leased: Leased, ids: Mapping[str, int]) -> Polled:
    """Ask about the jobs `ids` ({external id: pk}) in one request and store the answers."""
    answer = ask(leased, ids)
    return answer if isinstance(answer, Polled) else store([answer])[0]


def poll_counted(leased: Leased, ids: Mapping[str, int]) -> Polled:
    """`poll_batch` for a caller outside the loops, under a brief lease of its own
    (Refresh now, hints between loops): the account's last good answer and its usage
    counted as a loop counts them."""
    polled: Polled | None = None
    try:
        polled = poll_batch(leased, ids)
        if polled.error is None:
            services.account_record_ok(account_id=leased.account_id)
        return polled
    finally:
        failed = polled is not None and polled.error is not None
        usage.usage_record(account_id=leased.account_id, requests=1, errors=int(failed))


def ask(leased: Leased, ids: Mapping[str, int]) -> Answer | Polled:
    """One request about the jobs `ids`: its answer to store, or the Polled of a failure
    (already recorded)."""
    asked_at = timezone.now()
    started = time.monotonic()
    try:
        results = leased.adapter.fetch(list(ids))
    except ProviderError as error:
        seconds = time.monotonic() - started
        back_off = request_failed(leased, list(ids.values()), error)
        return Polled(seconds=seconds, error=error, back_off=back_off)
    except Exception as exc:  # an adapter bug: treat as transient, never crash
        log.error("%s: adapter error %s", leased.name, type(exc).__name__)
        failure = ProviderError("internal adapter error", "AdapterError")
        back_off = request_failed(leased, list(ids.values()), failure)
        return Polled(seconds=None, error=failure, back_off=back_off)
    return Answer(ids, results, asked_at, time.monotonic() - started)


def store(answers: list[Answer]) -> list[Polled]:
    """Store the answers of several requests in one write; one Polled per answer.

    Providers that answer one job per request (IVH, VOD, ICE) would otherwise pay the
    batch's read, transaction and insert for every job.
    """
    statuses: dict[int, JobStatus] = {}
    asked_at: dict[int, datetime] = {}
    counts: list[int] = []
    for answer in answers:
        jobs = 0
        for external_id, result in answer.results.items():
            pk = answer.ids.get(external_id)
            if pk is None:
                continue
            jobs += 1
            if isinstance(result, JobStatus):
                statuses[pk], asked_at[pk] = result, answer.asked_at
            else:
                services.jobs_record_error(job_ids=[pk], error=result)
        counts.append(jobs)
    applied = _apply(statuses, asked_at)
    for pk, outcome in applied.items():
        if outcome.became_terminal and statuses[pk].subtitles_url:
            services.job_fetch_subtitles(job_id=pk)  # never inside a transaction
    polled = []
    for answer, jobs in zip(answers, counts, strict=True):
        missing = [
            pk for external_id, pk in answer.ids.items() if external_id not in answer.results
        ]
        if missing:  # an adapter that forgot an id: retry later rather than lose it
            services.jobs_record_error(
                job_ids=missing, error=ProviderError("no answer for this job", "NoAnswer")
            )
        changed = sum(applied[pk].changed for pk in answer.ids.values() if pk in applied)
        polled.append(Polled(seconds=answer.seconds, jobs=jobs, changed=changed))
    return polled


def _apply(
    statuses: dict[int, JobStatus], asked_at: dict[int, datetime]
) -> dict[int, services.Applied]:
    try:
        return services.jobs_apply_statuses(statuses=statuses, asked_at=asked_at)
    except Exception:  # rolled back whole: store job by job, so one bad answer stays alone
        log.warning("a batch of %s answers could not be stored whole", len(statuses))
    applied = {}
    for pk, status in statuses.items():
        try:
            applied[pk] = services.job_apply_status(job_id=pk, status=status, asked_at=asked_at[pk])
        except Exception as exc:
            # Left due, the job would be asked again at once, for ever (a one-pass run
            # then never ends): note the error so it backs off like any other.
            log.exception("could not store the answer for job %s", pk)
            services.jobs_record_error(
                job_ids=[pk],
                error=ProviderError(
                    f"The answer could not be stored ({type(exc).__name__}).", "StoreError"
                ),
            )
    return applied


def request_failed(leased: Leased, job_ids: list[int], error: ProviderError) -> float | None:
    """Record a failed request on the account or on its jobs `job_ids`.

    Returns how many seconds the whole account must now wait, or None when only the
    jobs back off.
    """
    back_off = None
    if error.retry_after is not None or error.permanent:
        # Throttling or credentials: the account's problem, not the jobs'.
        if error.retry_after is not None:
            leased.budget.slow_down()
        back_off = services.account_record_error(account_id=leased.account_id, error=error)
        if error.permanent:
            services.track_account_refused(account_id=leased.account_id, error=error)
    else:
        services.jobs_record_error(job_ids=job_ids, error=error)
        services.account_record_error(account_id=leased.account_id, error=error, back_off=False)
    log.warning("%s: %s", leased.name, error)
    return back_off
