"""Workflows that touch the database and the providers.

Views, commands and tasks call these; they hold no request or CLI concerns.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import srt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from jobs import http, scheduling
from jobs.models import Account, Job, JobEvent, TrackBatch, TrackItem, http_url
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import JobStatus, ProviderError, SchemaField, State

logger = logging.getLogger(__name__)


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
    clean_credentials, clean_options = account_settings_clean(
        provider=provider, credentials=credentials, options=options or {}
    )
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


def account_settings_clean(
    *, provider: str, credentials: Mapping[str, Any], options: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """An account's credentials and options under Clapboard's names, validated.

    Each value may come under any name its provider documents for it (Huawei's `ak`,
    Tencent's `SecretId`, Alibaba's `AccessKeyId`: `SchemaField.aliases`), in any case,
    with or without separators. Raises InvalidInput naming the bad or repeated field,
    never echoing a secret value.
    """
    schema = provider_class(provider)
    try:
        return schema.validate_settings(
            _canonical_names(credentials, schema.credential_fields, "credential"),
            _canonical_names(options, schema.option_fields, "option"),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _fold(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).lower()


def _canonical_names(data: Any, fields: Iterable[SchemaField], kind: str) -> Any:
    if not isinstance(data, Mapping):
        return data  # validate_settings says what is wrong with it
    names = {_fold(spelling): f.name for f in fields for spelling in (f.name, *f.aliases)}
    given: dict[str, str] = {}
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = names.get(_fold(str(key)), key)
        if name in result:
            raise InvalidInput(
                f"{kind} {name!r} is given twice (as {given[name]!r} and {str(key)!r})"
            )
        given[name], result[name] = str(key), value
    return result


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
    Results come in the order the ids were given.

    With `verify`, each new id is first asked of the provider (in batches where the API
    takes them): found ids are tracked with their current status, unknown ones reported as
    not found, and a failed request reported as an error for its ids only. The account's
    health records the outcome like a poll's; after a credential or throttling failure no
    further requests are sent, and the remaining ids get that error.
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
                if _account_request_failed(account_id=account.pk, error=error):
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
    return [results[external_id] for external_id in pasted if external_id in results]


# At most this many task IDs per paste on the Track page and per API track request.
TRACK_MAX_IDS = 500
# How long one verifying track call (API, `manage.py track`) may spend asking the provider.
TRACK_VERIFY_SECONDS = 25.0
TRACK_BATCH_KEPT = timedelta(days=7)
PENDING = TrackItem.Outcome.PENDING


def track_batch_create(
    *, account: Account, external_ids: Iterable[str], user: Any = None
) -> TrackBatch:
    """Record a paste of task IDs and start watching the new ones at once, unverified.

    Nothing is asked of the provider here, so the request stays fast whatever the
    account's rate limit: each new job is due now, and the refresh engine's first poll of
    it — within the account's rate budget, like any poll — verifies it. A found job stays
    tracked; one the provider does not know, or whose check fails, is removed again and
    reported on its item, as `job_track(verify=True)` does (see `_track_refuse`). IDs
    already watched are "already tracked". Raises InvalidInput for no IDs, more than
    TRACK_MAX_IDS, or an ID over 255 characters; nothing is saved then.
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
    return batch


def _jobs_create(account: Account, new: list[str], existing: dict[str, int]) -> dict[str, int]:
    """Create jobs for `new` ids; returns {id: pk} of those created. Ids another request
    created meanwhile are added to `existing` instead."""
    try:
        with transaction.atomic():
            jobs = Job.objects.bulk_create(Job(account=account, external_id=i) for i in new)
        return {job.external_id: job.pk for job in jobs}
    except IntegrityError:
        created = {}
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


def _track_unverified(job_ids: Iterable[int]) -> set[int]:
    """Which of these never-polled jobs wait for their first check from a paste."""
    ids = list(job_ids)
    if not ids:
        return set()
    return set(
        TrackItem.objects.filter(job_id__in=ids, outcome=PENDING).values_list("job_id", flat=True)
    )


def _track_refuse(*, job_ids: Iterable[int], error: ProviderError) -> None:
    """A pasted job's first check failed: report it on its items ("not found" or "error")
    and remove the job, so nothing unverified sits in the list (the person may still
    track it anyway)."""
    ids = list(job_ids)
    if not ids:
        return
    outcome = TrackItem.Outcome.NOT_FOUND if error.is_not_found else TrackItem.Outcome.ERROR
    TrackItem.objects.filter(job_id__in=ids, outcome=PENDING).update(
        outcome=outcome, message=str(error)[:500]
    )
    Job.objects.filter(pk__in=ids, last_polled_at__isnull=True).delete()


def track_account_refused(*, account_id: int, error: ProviderError) -> None:
    """The account itself was refused (credentials, signature): none of its pasted jobs
    waiting for a first check can be checked; report and remove them now rather than
    leave them waiting through the account's back-off."""
    job_ids = TrackItem.objects.filter(
        batch__account_id=account_id, outcome=PENDING, job__isnull=False
    ).values_list("job_id", flat=True)
    _track_refuse(job_ids=list(job_ids), error=error)


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


def job_record_refresh(*, job_id: int, outcome: str, now: datetime | None = None) -> None:
    """Put the outcome of an operator's "Refresh now" on the job's timeline, so the open
    page shows it (the version bump makes its next poll fetch it)."""
    job = Job.objects.only("pk", "state", "provider_state").get(pk=job_id)
    with transaction.atomic():
        JobEvent.objects.create(
            job_id=job.pk,
            at=now or timezone.now(),
            state=job.state,
            provider_state=job.provider_state,
            kind=JobEvent.Kind.REFRESH,
            note=outcome[:255],
        )
        Job.objects.filter(pk=job.pk).update(version=F("version") + 1)


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


def storable(value: Any) -> Any:
    """`value` with every NUL character removed, through dicts, lists and tuples.

    PostgreSQL's text and jsonb cannot hold U+0000, so a provider string carrying one
    (JSON allows "\\u0000") would fail the whole status write there while SQLite stores it.
    The character is never meaningful in a name, message, URL or payload, so it goes.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def _status_values(status: JobStatus) -> dict[str, Any]:
    return storable({
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
    })


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
        if job.last_polled_at is None:
            # A first answer verifies a job tracked from a paste.
            TrackItem.objects.filter(job_id=job.pk, outcome=PENDING).update(
                outcome=TrackItem.Outcome.TRACKED
            )
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
        if job.poll_errors:
            _record_recovered(job, now)
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
            update["raw"] = storable(dict(status.raw))
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

    A per-job NOT_FOUND stops polling with a note, since asking again cannot help. A job
    pasted on the Track page and still waiting for its first check is removed instead, its
    outcome kept on the paste (see `_track_refuse`).
    """
    now = now or timezone.now()
    message = storable(str(error))[:500]
    with transaction.atomic():
        jobs = list(
            Job.objects.filter(pk__in=list(job_ids)).only(
                "pk", "poll_errors", "state", "last_polled_at"
            )
        )
        unverified = _track_unverified(j.pk for j in jobs if j.last_polled_at is None)
        _track_refuse(job_ids=unverified, error=error)
        for job in jobs:
            if job.pk in unverified:
                continue
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
            if errors == 1:  # the start of an episode; later failures only count
                JobEvent.objects.create(
                    job_id=job.pk,
                    at=now,
                    state=job.state,
                    kind=JobEvent.Kind.FAILING,
                    note=_failing_note(message),
                )
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
    jobs = list(jobs)
    with transaction.atomic():
        failing = Job.objects.filter(pk__in=[pk for pk, _, _ in jobs], poll_errors__gt=0)
        recovered = list(failing.only("pk", "state", "poll_errors"))
        for job in recovered:
            _record_recovered(job, now)
        Job.objects.filter(pk__in=[job.pk for job in recovered]).update(
            poll_errors=0, last_poll_error=""
        )
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
    with transaction.atomic():
        Account.objects.filter(pk=account_id).update(**update)
        if back_off and (error.permanent or delay >= ACCOUNT_OUTAGE_SECONDS):
            until = update["retry_at"].astimezone(UTC).strftime("%H:%M:%S UTC")
            _jobs_start_failing(
                account_id=account_id,
                message=f"account paused until {until}: {error}"[:500],
                now=now,
            )
    return delay if back_off else 0.0


# A pause shorter than this (a throttled burst) is rate control, not an outage: it does
# not go into the timelines of the account's jobs.
ACCOUNT_OUTAGE_SECONDS = 60.0


def _failing_note(message: str) -> str:
    return message[:255]


def _jobs_start_failing(*, account_id: int, message: str, now: datetime) -> None:
    """The account cannot be asked: every watched job of it starts a failing episode.

    Jobs already failing are left alone, so this writes once per episode (one update and
    one batch of events), however many times the account fails meanwhile.
    """
    watched = (
        Job.objects.filter(account_id=account_id, next_poll_at__isnull=False, poll_errors=0)
        .active()
        .values_list("pk", "state")
    )
    rows = list(watched)
    if not rows:
        return
    watched.update(poll_errors=1, last_poll_error=message)
    JobEvent.objects.bulk_create(
        [
            JobEvent(
                job_id=pk,
                at=now,
                state=state,
                kind=JobEvent.Kind.FAILING,
                note=_failing_note(message),
            )
            for pk, state in rows
        ],
        batch_size=500,
    )


def _record_recovered(job: Job, now: datetime) -> None:
    """A job whose checks had failed was answered again: close its failing episode."""
    since = (
        JobEvent.objects.filter(job_id=job.pk, kind=JobEvent.Kind.FAILING)
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    note = "Answered again"
    if since is not None:
        note += f" after failing since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    JobEvent.objects.create(
        job_id=job.pk, at=now, state=job.state, kind=JobEvent.Kind.RECOVERED, note=note
    )


def account_record_ok(*, account_id: int, now: datetime | None = None) -> None:
    Account.objects.filter(pk=account_id).update(
        last_ok_at=now or timezone.now(), consecutive_failures=0, retry_at=None
    )


def _account_request_failed(*, account_id: int, error: ProviderError) -> bool:
    """Record a failed request made outside the refresh loop (Track, Test connection) as
    the loop records one. Returns whether the account now waits (credentials, throttling)."""
    back_off = error.permanent or error.retry_after is not None
    account_record_error(account_id=account_id, error=error, back_off=back_off)
    return back_off


def account_check(*, account_id: int) -> ProviderError | None:
    """Make the provider's cheapest signed call for this account ("Test connection").

    The outcome is recorded like a poll's: success sets `last_ok_at` and lifts a pause,
    failure counts as an account failure. Returns the error, or None when it works.
    """
    account = Account.objects.get(pk=account_id)
    try:
        account.adapter().check_credentials()
    except ProviderError as error:
        _account_request_failed(account_id=account_id, error=error)
        return error
    except Exception as exc:  # an adapter bug must not become a 500 on the admin page
        logger.error("%s: adapter error %s in check_credentials", account.name, type(exc).__name__)
        error = ProviderError("internal adapter error", "AdapterError")
        _account_request_failed(account_id=account_id, error=error)
        return error
    account_record_ok(account_id=account_id)
    return None


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
