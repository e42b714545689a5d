"""Creating provider jobs from Clapboard, and creating one again: the provider's submit
call, the tracked job with the parameters it was sent with (for a resubmit), the link
between a job and its resubmission, and the audit entry.

Whether a job can be resubmitted is `resubmit_refusal`'s to say, so the page, its confirm
step, the prefilled form and the API refuse the same jobs for the same reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F

from jobs.models import Account, Job, JobEvent
from jobs.providers.base import Provider, ProviderError, State
from jobs.services.audit import Action, Outcome, Via, audit_record
from jobs.services.errors import InvalidInput
from jobs.services.notifications import submit_callback_url
from jobs.services.tracking import job_track


def _callback(account: Account, adapter: Provider) -> dict[str, str]:
    """The job's own notification URL where the adapter takes one (CI's CallBack) and the
    account has a receiver: sent with the job, never kept in its parameters (its path
    holds a secret)."""
    url = submit_callback_url(account)
    takes = "callback_url" in inspect.signature(adapter.submit).parameters
    return {"callback_url": url} if url and takes else {}


class ResubmitRefused(InvalidInput):
    """Clapboard will not resubmit this job (resubmit_refusal says why); nothing was sent."""


def job_submit(
    *,
    account: Account,
    params: Mapping[str, Any],
    user: Any = None,
    via: str = Via.WEB,
    resubmission_of: Job | None = None,
) -> Job:
    """Create a provider job and start tracking it, with its first status fetched; the
    job keeps `params` (what the submit form takes, never a credential) for a resubmit.

    With `resubmission_of` (job_resubmit), the new job is linked to that one, both
    timelines say so and the audit entry is a resubmit naming both jobs.
    Raises InvalidInput for parameters the adapter refuses before sending anything, and
    ProviderError when the provider refuses the request.
    """
    adapter = account.adapter()
    action = Action.RESUBMIT if resubmission_of else Action.SUBMIT
    earlier = [resubmission_of] if resubmission_of else []
    if not adapter.can_submit:
        raise InvalidInput(f"{account.provider_label} jobs cannot be submitted from Clapboard")
    try:
        external_id = adapter.submit(**params, **_callback(account, adapter))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    except ProviderError as exc:
        audit_record(
            user=user,
            via=via,
            action=action,
            outcome=Outcome.REFUSED,
            summary=f"{account.provider_label} refused the job: {exc}",
            account=account,
            jobs=earlier,
            detail={"params": _plain(params), "error": exc.code},
        )
        raise
    (result,) = job_track(account=account, external_ids=[external_id], verify=True)
    if result.job is None:  # the provider accepted it but cannot show it yet: poll it
        result = job_track(account=account, external_ids=[external_id])[0]
    if result.job is None:  # an ID Clapboard cannot store (over 255 characters)
        raise ProviderError(f"the provider's task ID cannot be tracked: {result.message}")
    job = result.job
    detail: dict[str, Any] = {"params": _plain(params), "external_id": external_id}
    summary = f"Submitted {external_id}"
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            submit_params=dict(params), resubmission_of=resubmission_of
        )
        if resubmission_of is not None:
            _link(resubmission_of, job, user)
            before = resubmission_of.submit_params or {}
            detail["edited"] = sorted(
                k for k in {*params, *before} if params.get(k) != before.get(k)
            )
            summary = f"Resubmitted {resubmission_of.external_id} as {external_id}"
        audit_record(
            user=user,
            via=via,
            action=action,
            outcome=Outcome.DONE,
            summary=summary,
            account=account,
            jobs=[job, *earlier],
            detail=detail,
        )
    job.refresh_from_db()
    return job


def _plain(params: Mapping[str, Any]) -> dict[str, str]:
    """A submit's parameters as the audit log keeps them: text, each value capped."""
    return {str(k): str(v)[:300] for k, v in params.items()}


def _link(earlier: Job, later: Job, user: Any) -> None:
    """The timeline line on each side of a resubmission; both pages learn of it on their
    next poll (the version bump)."""
    who = user or "a script"
    notes = {
        earlier: f"Resubmitted as {later.external_id} by {who}",
        later: f"Resubmission of {earlier.external_id}, by {who}",
    }
    JobEvent.objects.bulk_create(
        JobEvent(
            job=job,
            state=job.state,
            provider_state=job.provider_state,
            kind=JobEvent.Kind.ACTION,
            note=note[:255],
        )
        for job, note in notes.items()
    )
    Job.objects.filter(pk__in=[earlier.pk, later.pk]).update(version=F("version") + 1)


def resubmit_refusal(job: Job) -> str:
    """Why Clapboard will not resubmit `job` ("" when it will)."""
    account = job.account
    if not job.submit_params:
        return "It was not submitted through Clapboard, so its parameters are not known."
    if not account.adapter_class.can_submit:
        return f"{account.provider_label} jobs cannot be submitted from Clapboard."
    if not account.enabled:
        return f"The account {account.name} is disabled; an admin can enable it."
    # A job still waiting or running is refused: its resubmission would write the same
    # output objects of the same bucket while the first one still writes them, and the
    # provider would run (and bill) the work twice. Cancelled, failed or succeeded, the
    # outputs are settled; so cancel first, or wait.
    if not job.is_terminal:
        doing = "in an unknown state" if job.state == State.UNKNOWN else job.state
        return f"The job is still {doing} — cancel it first, or wait until it finishes."
    # One resubmission per job keeps the chain a line (and a double click one job): the
    # next try resubmits the newest link.
    later = job.resubmissions.order_by("-id").only("external_id").first()
    if later is not None:
        return f"It was already resubmitted as {later.external_id}; resubmit that job instead."
    return ""


def job_resubmit(*, job: Job, user: Any, via: str, params: Mapping[str, Any] | None = None) -> Job:
    """Submit `job` again on its account, with the parameters it was submitted with or
    `params` (edited, already checked by the submit form); return the new job, linked
    to `job`.

    Raises ResubmitRefused when resubmit_refusal says no (the refusal is audited),
    InvalidInput when the adapter refuses the parameters, ProviderError when the
    provider refuses the request.
    """
    if reason := resubmit_refusal(job):
        audit_record(
            user=user,
            via=via,
            action=Action.RESUBMIT,
            outcome=Outcome.REFUSED,
            summary=f"Resubmit of {job.external_id} refused: {reason}",
            account=job.account,
            jobs=[job],
            detail={"reason": reason},
        )
        raise ResubmitRefused(reason)
    sent = dict(params if params is not None else job.submit_params or {})
    return job_submit(account=job.account, params=sent, user=user, via=via, resubmission_of=job)
