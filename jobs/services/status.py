"""Applying what a provider said about jobs: a status, an error, an unchanged listing."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Field
from django.utils import timezone

from jobs import scheduling
from jobs.models import Job, JobEvent, TrackItem
from jobs.providers.base import JobStatus, ProviderError, State
from jobs.services.episodes import failing_note, job_record_recovered
from jobs.services.verification import PENDING, track_refuse, track_unverified
from jobs.writer import one_writer

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


# When a job was first seen running with a progress, and at what progress: the start of
# the line its ETA is drawn along.
Start = tuple[datetime, int]


def _running_starts(job_ids: Iterable[int]) -> dict[int, Start]:
    """The first running progress point of each of `job_ids` that has one, in one query."""
    starts: dict[int, Start] = {}
    rows = (
        JobEvent.objects.filter(job_id__among=list(job_ids), state=State.RUNNING)
        .exclude(progress__isnull=True)
        .order_by("job_id", "at", "id")
        .values_list("job_id", "at", "progress")
    )
    for job_id, at, progress in rows:
        if progress is not None:  # excluded above; the type does not know
            starts.setdefault(job_id, (at, progress))
    return starts


def _remaining(start: Start | None, status: JobStatus, now: datetime) -> timedelta | None:
    progress = status.progress
    if status.state is not State.RUNNING or progress is None or start is None:
        return None
    return scheduling.eta(
        [scheduling.ProgressPoint(*start), scheduling.ProgressPoint(now, progress)], now
    )


@dataclass(frozen=True)
class Applied:
    changed: bool
    became_terminal: bool = False
    stale: bool = False


@dataclass
class _Plan:
    """What one answer does to one job, decided before anything is written.

    `update` is None when the answer is dropped (older than the last one applied). The
    write is conditional on `version`, `last_polled_at` and `poll_errors` as they were
    read: if another writer moved any of them, the plan is void and made again.
    """

    job: Job
    applied: Applied
    update: dict[str, Any] | None = None
    event: JobEvent | None = None
    first_answer: bool = False


def _plan(
    job: Job, status: JobStatus, asked_at: datetime, now: datetime, start: Start | None
) -> _Plan:
    if job.last_polled_at and asked_at < job.last_polled_at:
        return _Plan(job, Applied(changed=False, stale=True))
    # A first answer verifies a job tracked from a paste.
    first_answer = job.last_polled_at is None
    if job.is_terminal:
        final: dict[str, Any] = {"last_polled_at": asked_at, "next_poll_at": None}
        return _Plan(job, Applied(changed=False), final, first_answer=first_answer)
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
    retention = adapter.retention
    if retention is not None and scheduling.past_retention(retention, started=reference, now=now):
        update["next_poll_at"] = None
        update["stopped_reason"] = (
            f"Past {adapter.label}'s retention of {retention.days} days; "
            "the provider no longer answers for it."
        )
    else:
        interval = scheduling.next_interval(
            status.state,
            queue_position=status.queue_position,
            remaining=_remaining(start, status, now),
            progress=status.progress,
        )
        update["next_poll_at"] = None if interval is None else now + timedelta(seconds=interval)
    event = None
    if changed:
        update.update(changed)
        update["raw"] = storable(dict(status.raw))
        update["version"] = job.version + 1
        # The event's own time, in the UPDATE sent anyway: the trigger on jobs_jobevent
        # then finds the row current and writes nothing (migration 0020).
        update["changed_at"] = now
        event = JobEvent(
            job_id=job.pk,
            at=now,
            note=update.get("stopped_reason", ""),
            **{name: values[name] for name in EVENT_FIELDS},
        )
    applied = Applied(
        changed=bool(changed), became_terminal=status.state.is_terminal and "state" in changed
    )
    return _Plan(job, applied, update, event, first_answer)


def _write_many(plans: list[_Plan], now: datetime) -> list[_Plan]:
    """Carry out the plans whose job is still as it was read; returns those.

    Each is an UPDATE conditional on what its plan was based on, sent as one
    `executemany` per shape of update rather than an ORM update each (half a refresh
    pass's CPU went into building those). Runs inside the caller's transaction; the
    change events and the verified pastes (`_tracked`) are the caller's to write.
    """
    shapes: dict[tuple[tuple[str, ...], bool], list[_Plan]] = defaultdict(list)
    for plan in plans:
        assert plan.update is not None
        shapes[(tuple(sorted(plan.update)), plan.job.last_polled_at is None)].append(plan)
    quote = connection.ops.quote_name
    meta = Job._meta
    polled_at = cast("Field[Any, Any]", meta.get_field("last_polled_at"))
    matched = 0
    with connection.cursor() as cursor:
        for (names, never_polled), members in shapes.items():
            fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in names]
            columns = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)
            last = "IS NULL" if never_polled else "= %s"
            # Identifiers from the model's own meta, values as parameters.
            sql = (
                f"UPDATE {quote(meta.db_table)} SET {columns} WHERE id = %s"  # noqa: S608
                f" AND version = %s AND poll_errors = %s AND last_polled_at {last}"
            )
            rows = []
            for plan in members:
                job, update = plan.job, plan.update or {}
                row = [field.get_db_prep_save(update[field.name], connection) for field in fields]
                row += [job.pk, job.version, job.poll_errors]
                if not never_polled:
                    row.append(polled_at.get_db_prep_value(job.last_polled_at, connection))
                rows.append(row)
            cursor.executemany(sql, rows)
            matched += cursor.rowcount  # the sum over the rows, on SQLite and psycopg alike
    written = plans if matched == len(plans) else _still_mine(plans)
    for plan in written:
        if plan.job.poll_errors and not plan.job.is_terminal:
            job_record_recovered(plan.job, now)
    return written


def _still_mine(plans: list[_Plan]) -> list[_Plan]:
    """The plans whose update went in: a written job carries its plan's poll time, one
    another writer moved on does not."""
    now_polled = dict(
        Job.objects.filter(pk__among=[plan.job.pk for plan in plans]).values_list(
            "pk", "last_polled_at"
        )
    )
    return [
        plan
        for plan in plans
        if plan.update is not None and now_polled.get(plan.job.pk) == plan.update["last_polled_at"]
    ]


def _tracked(plans: Iterable[_Plan]) -> None:
    """A first answer verifies a job tracked from a paste."""
    first = [plan.job.pk for plan in plans if plan.first_answer]
    if first:
        TrackItem.objects.filter(job_id__in=first, outcome=PENDING).update(
            outcome=TrackItem.Outcome.TRACKED
        )


# What `_plan` reads of a job: every column it compares or carries over. The account is
# joined for its provider only; its credentials would cost a decryption per job.
_PLAN_FIELDS = (
    *(f.name for f in dataclasses.fields(JobStatus) if f.name not in _NOT_COLUMNS),
    "words",
    "account__provider",
    "last_polled_at",
    "poll_errors",
    "version",
    "tracked_at",
)


def _read() -> Any:
    return Job.objects.select_related("account").only(*_PLAN_FIELDS)


def job_apply_status(
    *, job_id: int, status: JobStatus, asked_at: datetime, now: datetime | None = None
) -> Applied:
    """Store what the provider said about one job, in one transaction.

    Terminal states are final and a response older than the last one applied is
    dropped, so out-of-order answers never move a job backwards. A visible change bumps
    `version` and appends a JobEvent; every applied poll sets the next poll time.
    """
    now = now or timezone.now()
    with one_writer(), transaction.atomic():
        # Lock the job row only: locking the account too would serialise every update of
        # an account's jobs behind one another (and behind the loop's lease renewals).
        job = _read().select_for_update(of=("self",)).get(pk=job_id)
        plan = _plan(job, status, asked_at, now, _running_starts([job.pk]).get(job.pk))
        if plan.update is not None:
            _write_many([plan], now)  # the row is locked: it is still as read
            _tracked([plan])
            if plan.event is not None:
                plan.event.save()
    return plan.applied


def jobs_apply_statuses(
    *,
    statuses: Mapping[int, JobStatus],
    asked_at: datetime | Mapping[int, datetime],
    now: datetime | None = None,
) -> dict[int, Applied]:
    """Store a batch of answers ({job pk: status}) as `job_apply_status` would, cheaply.

    `asked_at` is when the request went out, or one time per job when the batch gathers the
    answers of several requests.

    The jobs are read in one query outside any transaction and every decision is made
    before the write, which is then a conditional UPDATE per job (sent as one
    `executemany`) and one INSERT of all the events: SQLite's single writer is held for
    those statements only, not for the ORM's work (at 5 ms a job, that work inside the
    write made a 10,000-job pass writer-bound).
    A job another writer changed in between is applied again with its row locked. A job
    that no longer exists is left out of the result.
    """
    now = now or timezone.now()
    when = (lambda pk: asked_at) if isinstance(asked_at, datetime) else asked_at.__getitem__
    # Only a job past 1 % can have an ETA (`scheduling.eta` needs 1 % gained).
    running = [
        pk
        for pk, status in statuses.items()
        if status.state is State.RUNNING and (status.progress or 0) >= 1
    ]
    starts = _running_starts(running) if running else {}
    plans = [
        _plan(job, statuses[job.pk], when(job.pk), now, starts.get(job.pk))
        for job in _read().filter(pk__among=list(statuses))
    ]
    with one_writer(), transaction.atomic():
        to_write = [plan for plan in plans if plan.update is not None]
        written = [plan for plan in plans if plan.update is None]  # dropped as stale
        written += _write_many(to_write, now) if to_write else []
        done = {plan.job.pk for plan in written}
        again = [plan.job.pk for plan in to_write if plan.job.pk not in done]
        applied = {plan.job.pk: plan.applied for plan in written}
        _tracked(written)
        JobEvent.objects.bulk_create(plan.event for plan in written if plan.event is not None)
    for pk in again:
        with contextlib.suppress(Job.DoesNotExist):
            applied[pk] = job_apply_status(
                job_id=pk, status=statuses[pk], asked_at=when(pk), now=now
            )
    return applied


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
            Job.objects.filter(pk__among=list(job_ids)).only(
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
        failing = Job.objects.filter(pk__among=[pk for pk, _, _ in jobs], poll_errors__gt=0)
        recovered = list(failing.only("pk", "state", "poll_errors"))
        for job in recovered:
            job_record_recovered(job, now)
        Job.objects.filter(pk__among=[job.pk for job in recovered]).update(
            poll_errors=0, last_poll_error=""
        )
        for pk, state, queue_position in jobs:
            interval = scheduling.next_interval(State(state), queue_position=queue_position)
            Job.objects.filter(pk=pk, next_poll_at__isnull=False).update(
                last_polled_at=now,
                next_poll_at=None if interval is None else now + timedelta(seconds=interval),
            )
