"""Cancelling jobs where the provider has an API for it: one signed request per batch the
provider takes, each job's outcome on its timeline, the whole action in the audit log.

Whether a job can be cancelled is the adapter's to say (`can_cancel`,
`cancellable_states`); `cancel_refusal` turns that into the sentence an operator reads, so
the page, the command and the API skip the same jobs for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from jobs.models import Account, Job, JobEvent
from jobs.providers.base import CancelOutcome, ProviderError
from jobs.services.accounts import account_record_ok, account_request_failed
from jobs.services.audit import Action, Outcome, audit_record


@dataclass(frozen=True)
class CancelResult:
    job: Job
    outcome: str  # "accepted" | "refused" | "skipped" | "error"
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"


def cancel_refusal(job: Job) -> str:
    """Why Clapboard will not ask to cancel `job` ("" when it will)."""
    adapter = job.account.adapter_class
    if not adapter.can_cancel:
        return adapter.cancel_unsupported_reason
    if job.is_terminal:
        return f"The job has already {job.state}."
    if job.state not in adapter.cancellable_states:
        allowed = " or ".join(sorted(str(state) for state in adapter.cancellable_states))
        return f"{adapter.label} cancels only {allowed} jobs; this one is {job.state}."
    return ""


def jobs_cancel(
    *,
    account: Account,
    jobs: Iterable[Job],
    user: Any,
    via: str,
    pace: Callable[[], bool] | None = None,
) -> list[CancelResult]:
    """Ask the provider to cancel `jobs` (all of `account`), in batches it takes.

    Jobs it would refuse are skipped with the reason, without a request. A request that
    fails as a whole (transport, credentials, throttling) gives its jobs an "error"
    result and is recorded on the account like a failed poll; after a credential or
    throttling failure no further batch is sent. Every job's outcome goes on its
    timeline and the call into the audit log. The caller refreshes the accepted jobs.
    `pace` (a bulk cancel's RateBudget.take) is called before each request; when it
    says False (the worker is stopping) the batch is not sent.
    """
    results: dict[int, CancelResult] = {}
    wanted: list[Job] = []
    for job in jobs:
        if job.account_id != account.pk:
            raise ValueError(f"job {job.pk} is not on account {account.pk}")
        if reason := cancel_refusal(job):
            results[job.pk] = CancelResult(job, "skipped", reason)
        else:
            wanted.append(job)
    adapter = account.adapter()
    size = max(1, adapter.cancel_batch_size)
    stopped: ProviderError | None = None
    answered = False
    for start in range(0, len(wanted), size):
        batch = wanted[start : start + size]
        if stopped is not None:
            results.update((j.pk, CancelResult(j, "error", str(stopped))) for j in batch)
            continue
        if pace is not None and not pace():
            stopped = ProviderError("not sent: the worker stopped")
            results.update((j.pk, CancelResult(j, "error", str(stopped))) for j in batch)
            continue
        try:
            outcomes = adapter.cancel([job.external_id for job in batch])
        except ProviderError as error:
            if account_request_failed(account_id=account.pk, error=error):
                stopped = error
            results.update((j.pk, CancelResult(j, "error", str(error))) for j in batch)
            continue
        answered = True
        for job in batch:
            results[job.pk] = _result(job, outcomes.get(job.external_id))
    if answered:
        account_record_ok(account_id=account.pk)
    ordered = list(results.values())
    _record(account, ordered, user=user, via=via)
    return ordered


def _result(job: Job, outcome: CancelOutcome | None) -> CancelResult:
    if outcome is None:
        return CancelResult(job, "error", "The provider's answer did not mention this job.")
    if outcome.accepted:
        return CancelResult(job, "accepted", outcome.message)
    reason = f"{outcome.code}: {outcome.message}" if outcome.code else outcome.message
    return CancelResult(job, "refused", reason or "The provider refused without a reason.")


_NOTES = {
    "accepted": "Cancel requested by {user}: the provider accepted it",
    "refused": "Cancel requested by {user}: the provider refused ({message})",
    "error": "Cancel requested by {user}: not sent or not answered ({message})",
}


def _record(account: Account, results: list[CancelResult], *, user: Any, via: str) -> None:
    """Each asked job's timeline line (skipped jobs were not asked) and one audit entry."""
    counts = {kind: sum(r.outcome == kind for r in results) for kind in _NOTES}
    counts["skipped"] = sum(r.outcome == "skipped" for r in results)
    asked = [r for r in results if r.outcome != "skipped"]
    with transaction.atomic():
        JobEvent.objects.bulk_create(
            JobEvent(
                job=r.job,
                state=r.job.state,
                provider_state=r.job.provider_state,
                kind=JobEvent.Kind.ACTION,
                note=_NOTES[r.outcome].format(user=user or "a script", message=r.message)[:255],
            )
            for r in asked
        )
        Job.objects.filter(pk__in=[r.job.pk for r in asked]).update(version=F("version") + 1)
        if counts["accepted"] == len(results):
            outcome = Outcome.DONE
        elif counts["accepted"]:
            outcome = Outcome.PARTIAL
        elif counts["refused"] or counts["skipped"]:
            outcome = Outcome.REFUSED
        else:
            outcome = Outcome.FAILED
        parts = [f"{n} {kind}" for kind, n in counts.items() if n]
        target = results[0].job.display_name if len(results) == 1 else f"{len(results)} jobs"
        audit_record(
            user=user,
            via=via,
            action=Action.CANCEL,
            outcome=outcome,
            summary=f"Cancel {target} on {account.name}: {', '.join(parts) or 'nothing asked'}",
            account=account,
            jobs=[r.job for r in results],
            detail={
                "counts": counts,
                "jobs": {
                    r.job.external_id: {"outcome": r.outcome, "message": r.message[:300]}
                    for r in results[:200]
                },
            },
        )
