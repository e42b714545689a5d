"""Workflows that touch the database and the providers.

Views, commands and tasks call these; they hold no request or CLI concerns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import srt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from jobs import http, scheduling
from jobs.models import Account, Job, JobEvent, http_url
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import JobStatus, ProviderError, State


class InvalidInput(ValueError):
    """Input a person gave us is wrong; the message says which part and why."""


def account_create(
    *,
    name: str,
    provider: str,
    credentials: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    region: str = "",
    endpoint: str = "",
    rate_limit: float | None = None,
) -> Account:
    """Create an account after validating everything; nothing is saved on error.

    Raises InvalidInput naming the bad field (never echoing a secret value).
    """
    name = name.strip()
    if not name:
        raise InvalidInput("the account name is empty")
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown provider {provider!r} (one of: {', '.join(PROVIDERS)})")
    if endpoint:
        try:
            http_url(endpoint)
        except ValidationError:
            raise InvalidInput(f"endpoint must be an http(s) URL, not {endpoint!r}") from None
        problem = http.endpoint_refusal(
            endpoint, allow_private=settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS
        )
        if problem:
            raise InvalidInput(problem)
    if rate_limit is not None and rate_limit <= 0:
        raise InvalidInput("rate limit must be a positive number of requests per second")
    try:
        clean_credentials, clean_options = provider_class(provider).validate_settings(
            credentials, options or {}
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    try:
        with transaction.atomic():
            return Account.objects.create(
                name=name,
                provider=provider,
                region=region.strip(),
                endpoint=endpoint.strip(),
                credentials=clean_credentials,
                options=clean_options,
                rate_limit=rate_limit,
            )
    except IntegrityError:
        raise InvalidInput(f"an account named {name!r} already exists") from None


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
    *, account: Account, external_ids: Iterable[str], verify: bool = False
) -> list[TrackResult]:
    """Start watching task IDs on an account; ids already watched are reported, not duplicated.

    With `verify`, each new id is first asked of the provider (in batches where the API
    takes them): found ids are tracked with their current status, unknown ones reported as
    not found, and a failed request reported as an error for its ids only.
    """
    results: dict[str, TrackResult] = {}
    wanted = []
    for external_id in dict.fromkeys(i.strip() for i in external_ids):
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
        for start in range(0, len(new), adapter.batch_size):
            batch = new[start : start + adapter.batch_size]
            try:
                statuses.update(adapter.fetch(batch))
            except ProviderError as error:
                statuses.update(dict.fromkeys(batch, error))
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
    order = {external_id: n for n, external_id in enumerate(results)}
    return sorted(results.values(), key=lambda r: order.get(r.external_id, 0))


def job_submit(*, account: Account, params: Mapping[str, Any]) -> Job:
    """Create a provider job and start tracking it, with its first status fetched.

    Raises InvalidInput for parameters the adapter refuses before sending anything, and
    ProviderError when the provider refuses the request.
    """
    adapter = account.adapter()
    if not adapter.can_submit:
        raise InvalidInput(f"{account.provider_label} jobs cannot be submitted from Clapboard")
    try:
        external_id = adapter.submit(**params)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    (result,) = job_track(account=account, external_ids=[external_id], verify=True)
    if result.job is None:  # the provider accepted it but cannot show it yet: poll it
        result = job_track(account=account, external_ids=[external_id])[0]
    return result.job


def job_stop_watching(*, job: Job, user: Any) -> None:
    """Stop polling a job on an operator's request (it stays listed)."""
    note = f"Stopped watching by {user}"
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            next_poll_at=None, stopped_reason=note, version=F("version") + 1
        )
        JobEvent.objects.create(
            job=job, state=job.state, provider_state=job.provider_state, note=note
        )


def job_resume_watching(*, job: Job, user: Any) -> None:
    if job.is_terminal:
        return
    note = f"Watching again, at the request of {user}"
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            next_poll_at=timezone.now(), stopped_reason="", poll_errors=0, version=F("version") + 1
        )
        JobEvent.objects.create(
            job=job, state=job.state, provider_state=job.provider_state, note=note
        )


# --- applying what a provider said ------------------------------------------------

# Every field of `_status_values` is visible: a change in any bumps `version`; these
# also go into the JobEvent that records the change.
EVENT_FIELDS = (
    "state",
    "provider_state",
    "progress",
    "queue_position",
    "failure_code",
    "failure_message",
)
NOT_FOUND_NOTE = "The provider no longer knows this task; polling stopped."


def _status_values(status: JobStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "provider_state": status.provider_state[:64],
        "progress": status.progress,
        "queue_position": status.queue_position if status.state is State.QUEUED else None,
        "failure_code": status.failure_code[:128],
        "failure_message": status.failure_message,
        "media_url": status.media_url,
        "subtitles_url": status.subtitles_url,
        "cover_url": status.cover_url,
        "duration_ms": status.duration_ms,
        "created_at": status.created_at,
        "started_at": status.started_at,
        "finished_at": status.finished_at,
        "kind": status.kind[:100],
        "name": status.name[:255],
        "words": [
            {
                "text": sentence.text,
                "words": [[w.text, w.start_ms, w.end_ms] for w in sentence.words],
            }
            for sentence in status.words
        ],
    }


def _remaining(job: Job, status: JobStatus, now: datetime) -> timedelta | None:
    if status.state is not State.RUNNING or status.progress is None:
        return None
    first = (
        job.events.filter(state=State.RUNNING, progress__isnull=False)
        .order_by("at", "id")
        .values_list("at", "progress")
        .first()
    )
    if first is None:
        return None
    return scheduling.eta(
        [scheduling.ProgressPoint(*first), scheduling.ProgressPoint(now, status.progress)], now
    )


@dataclass(frozen=True)
class Applied:
    changed: bool
    became_terminal: bool = False
    stale: bool = False


def job_apply_status(
    *, job_id: int, status: JobStatus, asked_at: datetime, now: datetime | None = None
) -> Applied:
    """Store what the provider said about one job, in one transaction.

    Terminal states are final and a response older than the last one applied is
    dropped, so out-of-order answers never move a job backwards. A visible change bumps
    `version` and appends a JobEvent; every applied poll sets the next poll time.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the job row only: locking the account too would serialise every update of
        # an account's jobs behind one another (and behind the loop's lease renewals).
        job = Job.objects.select_for_update(of=("self",)).select_related("account").get(pk=job_id)
        if job.last_polled_at and asked_at < job.last_polled_at:
            return Applied(changed=False, stale=True)
        if job.is_terminal:
            Job.objects.filter(pk=job.pk).update(last_polled_at=asked_at, next_poll_at=None)
            return Applied(changed=False)
        values = _status_values(status)
        poll_note = ""
        if status.state is State.UNKNOWN and job.state != State.UNKNOWN:
            # A raw state we have no mapping for says nothing reliable: keep what we knew,
            # show the raw value, and say so on the job.
            for name in ("state", "progress", "queue_position"):
                values[name] = getattr(job, name)
            poll_note = (
                f"Unknown provider state {status.provider_state!r}; "
                f"still shown as {job.get_state_display().lower()}."
            )
        changed = {name: value for name, value in values.items() if getattr(job, name) != value}
        update: dict[str, Any] = {
            "last_polled_at": asked_at,
            "poll_errors": 0,
            "last_poll_error": poll_note,
        }
        adapter = job.account.adapter_class
        reference = status.created_at or job.tracked_at
        if scheduling.past_retention(adapter.retention, started=reference, now=now):
            update["next_poll_at"] = None
            update["stopped_reason"] = (
                f"Past {adapter.label}'s retention of {adapter.retention.days} days; "
                "the provider no longer answers for it."
            )
        else:
            interval = scheduling.next_interval(
                status.state,
                queue_position=status.queue_position,
                remaining=_remaining(job, status, now),
                progress=status.progress,
            )
            update["next_poll_at"] = None if interval is None else now + timedelta(seconds=interval)
        if changed:
            update.update(changed)
            update["raw"] = dict(status.raw)
            update["version"] = job.version + 1
            JobEvent.objects.create(
                job=job,
                at=now,
                note=update.get("stopped_reason", ""),
                **{name: values[name] for name in EVENT_FIELDS},
            )
        Job.objects.filter(pk=job.pk).update(**update)
    return Applied(
        changed=bool(changed), became_terminal=status.state.is_terminal and "state" in changed
    )


def jobs_record_error(
    *, job_ids: Iterable[int], error: ProviderError, now: datetime | None = None
) -> None:
    """A request about these jobs failed: keep their state, note the error, back off.

    A per-job NOT_FOUND stops polling with a note, since asking again cannot help.
    """
    now = now or timezone.now()
    message = str(error)[:500]
    with transaction.atomic():
        for job in Job.objects.filter(pk__in=list(job_ids)).only("pk", "poll_errors", "state"):
            if error.is_not_found:
                Job.objects.filter(pk=job.pk).update(
                    poll_errors=job.poll_errors + 1,
                    last_poll_error=message,
                    next_poll_at=None,
                    stopped_reason=NOT_FOUND_NOTE,
                    version=F("version") + 1,
                )
                JobEvent.objects.create(job_id=job.pk, at=now, state=job.state, note=NOT_FOUND_NOTE)
                continue
            errors = job.poll_errors + 1
            delay = scheduling.error_backoff(errors, retry_after=error.retry_after)
            Job.objects.filter(pk=job.pk).update(
                poll_errors=errors,
                last_poll_error=message,
                next_poll_at=now + timedelta(seconds=delay),
            )


def jobs_confirm_unchanged(
    *, jobs: Iterable[tuple[int, str, int | None]], now: datetime | None = None
) -> None:
    """A state listing showed these jobs (pk, state, queue position) unchanged: count
    that as a poll and schedule the next one, without a request per job."""
    now = now or timezone.now()
    with transaction.atomic():
        for pk, state, queue_position in jobs:
            interval = scheduling.next_interval(State(state), queue_position=queue_position)
            Job.objects.filter(pk=pk, next_poll_at__isnull=False).update(
                last_polled_at=now,
                next_poll_at=None if interval is None else now + timedelta(seconds=interval),
            )


def account_record_error(
    *,
    account_id: int,
    error: ProviderError,
    back_off: bool = True,
    now: datetime | None = None,
) -> float:
    """A request of this account failed: record it, and unless `back_off` is False push
    the account's next poll back. Returns the delay in seconds.

    Auth failures wait at least five minutes: Huawei locks a key after five bad signatures.
    """
    now = now or timezone.now()
    account = Account.objects.only("consecutive_failures").get(pk=account_id)
    failures = account.consecutive_failures + 1
    delay = scheduling.error_backoff(failures, retry_after=error.retry_after)
    if error.permanent:
        delay = max(delay, 300.0)
    update: dict[str, Any] = {
        "last_error": str(error)[:1000],
        "last_error_at": now,
        "consecutive_failures": failures,
    }
    if back_off:
        update["retry_at"] = now + timedelta(seconds=delay)
    Account.objects.filter(pk=account_id).update(**update)
    return delay if back_off else 0.0


def account_record_ok(*, account_id: int, now: datetime | None = None) -> None:
    Account.objects.filter(pk=account_id).update(
        last_ok_at=now or timezone.now(), consecutive_failures=0, retry_at=None
    )


def job_fetch_subtitles(*, job_id: int) -> None:
    """Fetch a finished job's SRT once through the SSRF guard and store it.

    A malformed file keeps the raw text and an error; a failed fetch keeps the error.
    """
    job = Job.objects.only("subtitles_url").get(pk=job_id)
    if not job.subtitles_url:
        return
    text, error = "", ""
    try:
        response = http.fetch_public(
            job.subtitles_url,
            max_bytes=SUBTITLES_MAX_BYTES,
            allow_loopback=settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH,
        )
        text = response.body.decode("utf-8-sig", errors="replace")
        list(srt.parse(text))
    except http.OutboundError as exc:
        error = f"could not fetch subtitles: {exc}"[:255]
    except (srt.SRTParseError, ValueError) as exc:
        error = f"subtitles are not valid SRT: {type(exc).__name__}"[:255]
    Job.objects.filter(pk=job_id).update(
        subtitles=text, subtitles_error=error, version=F("version") + 1
    )


SUBTITLES_MAX_BYTES = 1024 * 1024
