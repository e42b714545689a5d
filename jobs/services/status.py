"""Applying what a provider said about jobs: a status, an error, an unchanged listing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jobs import scheduling
from jobs.models import Job, JobEvent, TrackItem
from jobs.providers.base import JobStatus, ProviderError, State
from jobs.services.episodes import failing_note, job_record_recovered
from jobs.services.verification import PENDING, track_refuse, track_unverified

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


# The JobStatus fields that are not a Job column of the same name: the task ID is the
# job's identity, and `raw` is stored only with a visible change.
_NOT_COLUMNS = frozenset({"external_id", "raw"})


def _status_values(status: JobStatus) -> dict[str, Any]:
    """The Job columns a provider's answer sets, one per JobStatus field of the same name.

    Text is cut to the column's length (a provider may send more than we keep); a queue
    position means something only while queued; words are stored as plain JSON.
    """
    values: dict[str, Any] = {}
    for item in dataclasses.fields(JobStatus):
        if item.name in _NOT_COLUMNS:
            continue
        value = getattr(status, item.name)
        limit = getattr(Job._meta.get_field(item.name), "max_length", None)
        if isinstance(value, str) and limit:
            value = value[:limit]
        values[item.name] = value
    values["state"] = status.state.value
    if status.state is not State.QUEUED:
        values["queue_position"] = None
    values["words"] = [
        {"text": sentence.text, "words": [[w.text, w.start_ms, w.end_ms] for w in sentence.words]}
        for sentence in status.words
    ]
    result: dict[str, Any] = storable(values)
    return result


def _remaining(job: Job, status: JobStatus, now: datetime) -> timedelta | None:
    progress = status.progress
    if status.state is not State.RUNNING or progress is None:
        return None
    first = (
        job.events.filter(state=State.RUNNING, progress__isnull=False)
        .order_by("at", "id")
        .values_list("at", "progress")
        .first()
    )
    if first is None:
        return None
    started_at, started_progress = first
    if started_progress is None:
        return None
    return scheduling.eta(
        [
            scheduling.ProgressPoint(started_at, started_progress),
            scheduling.ProgressPoint(now, progress),
        ],
        now,
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
            job_record_recovered(job, now)
        update: dict[str, Any] = {
            "last_polled_at": asked_at,
            "poll_errors": 0,
            "last_poll_error": poll_note,
        }
        adapter = job.account.adapter_class
        reference = status.created_at or job.tracked_at
        retention = adapter.retention
        if retention is not None and scheduling.past_retention(
            retention, started=reference, now=now
        ):
            update["next_poll_at"] = None
            update["stopped_reason"] = (
                f"Past {adapter.label}'s retention of {retention.days} days; "
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
    outcome kept on the paste (see `verification.track_refuse`).
    """
    now = now or timezone.now()
    message = storable(str(error))[:500]
    with transaction.atomic():
        jobs = list(
            Job.objects.filter(pk__in=list(job_ids)).only(
                "pk", "poll_errors", "state", "last_polled_at"
            )
        )
        unverified = track_unverified(j.pk for j in jobs if j.last_polled_at is None)
        track_refuse(job_ids=unverified, error=error)
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
                    note=failing_note(message),
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
            job_record_recovered(job, now)
        Job.objects.filter(pk__in=[job.pk for job in recovered]).update(
            poll_errors=0, last_poll_error=""
        )
        for pk, state, queue_position in jobs:
            interval = scheduling.next_interval(State(state), queue_position=queue_position)
            Job.objects.filter(pk=pk, next_poll_at__isnull=False).update(
                last_polled_at=now,
                next_poll_at=None if interval is None else now + timedelta(seconds=interval),
            )
