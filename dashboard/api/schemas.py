"""What the API reads and writes, as pydantic schemas.

The same classes validate the requests, shape the responses and are the OpenAPI document
(ninja generates it from them), so the three cannot drift apart. A job's shape is `Job`
alone: the list's `.only(...)` columns are read off it too (`orm_paths`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django import forms
from ninja import Field, Schema
from pydantic import (
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from dashboard.api.errors import ERROR_STATUS
from dashboard.jobs import timings
from dashboard.jobs.forms import JobFilterForm
from jobs import models
from jobs.listing import SORT_CHOICES, WINDOWS
from jobs.providers import PROVIDERS
from jobs.services import TRACK_MAX_IDS
from jobs.services import TrackResult as TrackOutcome

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_TRACK_IDS = TRACK_MAX_IDS  # the Track page's cap too

if TYPE_CHECKING:
    StateName = str
    ProviderCode = str
    SortName = str
    WindowName = str
    EventKind = str
    ErrorCode = str
else:  # built from the registries, so a new state, provider or error code needs no edit here
    StateName = Literal[tuple(state for state, _ in models.STATE_CHOICES)]
    ProviderCode = Literal[tuple(PROVIDERS)]
    SortName = Literal[tuple(value for value, _ in SORT_CHOICES)]
    WindowName = Literal[tuple(WINDOWS)]
    EventKind = Literal[tuple(kind for kind, _ in models.JobEvent.Kind.choices)]
    ErrorCode = Literal[tuple(ERROR_STATUS)]


def _utc_iso(value: datetime) -> str:
    # Spelled out: ninja's JSON encoder would write "Z" and cut microseconds.
    return value.astimezone(UTC).isoformat()


UtcTime = Annotated[
    datetime,
    PlainSerializer(_utc_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Percent = Annotated[int, Field(ge=0, le=100)]
Count = Annotated[int, Field(ge=0)]


# --- the job ------------------------------------------------------------------------------


class Account(Schema):
    code: uuid.UUID
    name: str


class Job(Schema):
    """A job as the API shows it: no raw payload, no account credentials."""

    code: uuid.UUID
    external_id: str = Field(description="The provider's task ID.")
    name: str
    kind: str = Field(description="Provider task type / function / job type.")
    provider: ProviderCode = Field(validation_alias="account.provider")
    account: Account
    state: StateName
    provider_state: str = Field(description="The provider's own state value.")
    progress: Percent | None
    queue_position: Count | None
    failure_code: str
    failure_message: str
    media_url: str
    subtitles_url: str
    cover_url: str
    duration_ms: int | None
    created_at: UtcTime | None = Field(description="When the provider created the task.")
    started_at: UtcTime | None
    finished_at: UtcTime | None
    tracked_at: UtcTime = Field(description="When Clapboard first saw the job.")
    last_polled_at: UtcTime | None
    version: Count = Field(description="Bumped on every visible change.")
    resubmission_of: uuid.UUID | None = Field(
        description="The code of the job this one resubmitted (POST .../resubmit); null if none."
    )
    resubmitted_as: uuid.UUID | None = Field(
        description="The code of the newest job that resubmitted this one; null if none."
    )

    # Annotations of the API's job queries (dashboard/api/views.py with_links), not columns.
    @staticmethod
    def resolve_resubmission_of(job: models.Job) -> uuid.UUID | None:
        return job.resubmission_of_code  # type: ignore[attr-defined,no-any-return]

    @staticmethod
    def resolve_resubmitted_as(job: models.Job) -> uuid.UUID | None:
        return job.resubmitted_as_code  # type: ignore[attr-defined,no-any-return]


def orm_paths(schema: type[Schema], prefix: str = "") -> tuple[str, ...]:
    """The model fields `schema` reads, as `.only(...)` wants them ("account__name").

    A nested schema or a dotted alias is a relation: the relation itself is listed too,
    as select_related needs it. A field with a resolver reads no column of its own."""
    paths: list[str] = []
    for name, field in schema.model_fields.items():
        if hasattr(schema, f"resolve_{name}"):
            continue
        source = prefix + str(field.validation_alias or name).replace(".", "__")
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, Schema):
            paths += [source, *orm_paths(nested, source + "__")]
        else:
            relation = source.rpartition("__")[0]
            paths += [relation, source] if relation else [source]
    return tuple(dict.fromkeys(paths))


# What a list row needs; raw payloads, words and subtitles stay for the detail call.
JOB_LIST_FIELDS = orm_paths(Job)


class JobPage(Schema):
    jobs: list[Job]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class Event(Schema):
    at: UtcTime
    state: StateName
    provider_state: str
    progress: Percent | None
    queue_position: Count | None
    failure_code: str
    failure_message: str
    note: str
    kind: EventKind = Field(
        description='Empty for a status change; "failing", "recovered" (checks of the job '
        'started failing / were answered again) or "refresh" (a "Refresh now" outcome).'
    )


Word = Annotated[tuple[str, int, int], Field(description="[text, start_ms, end_ms]")]


class Sentence(Schema):
    text: str
    words: list[Word]


class JobDetail(Job):
    events: list[Event]
    words: list[Sentence]
    subtitles: str | None = Field(description="SRT text.")

    @staticmethod
    def resolve_events(job: models.Job) -> Any:
        return job.events.order_by("at", "id")

    @staticmethod
    def resolve_words(job: models.Job) -> list[dict[str, Any]]:
        return [
            {"text": s.text, "words": [(w.text, w.start_ms, w.end_ms) for w in s.words]}
            for s in timings.sentences(job)
        ]

    @staticmethod
    def resolve_subtitles(job: models.Job) -> str | None:
        return job.subtitles or None


class Queued(Schema):
    queued: Literal[True]


# --- the list's parameters ----------------------------------------------------------------


def _query_text(pattern: str, message: str) -> BeforeValidator:
    """Accept a query value only in the one spelling the document promises; pydantic's lax
    parsing would take "1_0" for 10 or "86400" for a day."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(pattern, value):
            raise PydanticCustomError("query_format", message)
        return value

    return BeforeValidator(check)


WholeNumber = Annotated[int, _query_text(r"[0-9]{1,4}", "a whole number")]
Hour = Annotated[int, _query_text(r"[0-9]{1,2}", "an hour from 0 to 23"), Field(ge=0, le=23)]
IsoDate = Annotated[date, _query_text(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "a day as YYYY-MM-DD")]


def _form_max_length(name: str) -> int:
    """The page form's limit, so the document states the rule the form enforces."""
    field = JobFilterForm.base_fields[name]
    assert isinstance(field, forms.CharField) and field.max_length
    return field.max_length


def _never_null(schema: dict[str, Any]) -> None:
    # A query parameter is a string or absent; "or null" would only confuse a client.
    for prop in schema["properties"].values():
        choices = prop.pop("anyOf", None)
        if choices:
            prop.update(next(choice for choice in choices if choice != {"type": "null"}))


class JobFilterQuery(Schema):
    """The job list page's filters (JobFilterForm applies them): the CSV export's
    parameters, and the list's with a page (JobListQuery)."""

    model_config = ConfigDict(json_schema_extra=_never_null)

    state: StateName | None = Field(None, description="Normalized state.")
    provider: ProviderCode | None = Field(None, description="Provider code.")
    account: uuid.UUID | None = Field(None, description="Account code.")
    kind: str | None = Field(
        None, max_length=_form_max_length("kind"), description="Exact task type."
    )
    q: str | None = Field(
        None,
        max_length=_form_max_length("q"),
        description="Search: part of a task ID (a prefix below 3 characters) or of a name; "
        "any case.",
    )
    created_from: IsoDate | None = Field(
        None,
        description="Created on or after this day (UTC; the provider's creation time, "
        "else tracking time).",
    )
    created_to: IsoDate | None = Field(
        None,
        description="Created on or before this day (UTC). Dates run from 1970-01-01 to 9999-12-30.",
    )
    failure_code: str | None = Field(
        None,
        max_length=_form_max_length("failure_code"),
        description="Exact failure code, as the provider sent it; `-` for jobs without one.",
    )
    finished_from: datetime | None = Field(
        None,
        description="Finished at or after this time (ISO 8601; the provider's finish time, "
        "else tracking time). Unfinished jobs are left out.",
    )
    finished_to: datetime | None = Field(
        None, description="Finished before this time (ISO 8601, not included)."
    )
    state_not: StateName | None = Field(None, description="Leave out the jobs in this state.")
    provider_not: ProviderCode | None = Field(
        None, description="Leave out the jobs of this provider."
    )
    window: WindowName | None = Field(
        None, description="Created within the last hour, 24 hours or 7 days, counted from now."
    )
    hour_from: Hour | None = Field(
        None,
        description="Created at or after this hour of the day (UTC, 0-23); with hour_to, "
        "a window of whole hours, both included, that wraps midnight when hour_from is the "
        "later (22 and 1: 22:00 to 01:59).",
    )
    hour_to: Hour | None = Field(
        None, description="Created in or before this hour of the day (UTC, 0-23, included)."
    )
    sort: SortName | None = Field(
        None,
        description="Order: tracked (default -tracked, newest first), created, changed (the "
        "newest event), duration (media length), progress; a leading - puts the newest or "
        "largest first. Jobs without a media length or progress come last with -, first "
        "without. A cursor belongs to the order it was given under.",
    )

    def form_data(self) -> dict[str, Any]:
        """The filters for JobFilterForm, which adds the page's own rules (day range,
        existing account, no NUL)."""
        return self.model_dump(exclude=set(PAGING), exclude_none=True)


class JobListQuery(JobFilterQuery):
    """The filters, and the page asked for."""

    cursor: str | None = Field(None, description="next_cursor from the previous page.")
    limit: WholeNumber = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Jobs per page.")


PAGING = ("cursor", "limit")
FILTER_PARAMETERS = frozenset(JobFilterQuery.model_fields)
LIST_PARAMETERS = frozenset(JobListQuery.model_fields)


# --- tracking -----------------------------------------------------------------------------


class TrackRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    account: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="Account code or name."
    )
    task_ids: list[str] = Field(min_length=1, max_length=MAX_TRACK_IDS)


class TrackResult(Schema):
    task_id: str
    outcome: Literal["tracked", "already tracked", "not found", "error"]
    job: uuid.UUID | None = Field(description="The job's code when it is tracked.")
    message: str

    @staticmethod
    def resolve_task_id(result: TrackOutcome) -> str:
        return result.external_id

    @staticmethod
    def resolve_job(result: TrackOutcome) -> uuid.UUID | None:
        return result.job.code if result.job else None


class TrackResponse(Schema):
    results: list[TrackResult]


# --- acting on a job ----------------------------------------------------------------------


class CancelResponse(Schema):
    outcome: Literal["accepted", "refused", "skipped", "error"] = Field(
        description="accepted: the provider took it (the job is refreshed at once); "
        "refused: the provider said no; skipped: Clapboard did not ask (the provider has no "
        "cancel, or not in this state); error: the request failed."
    )
    message: str = Field(description="The provider's reason, or Clapboard's.")


# --- saved views --------------------------------------------------------------------------


class SavedView(Schema):
    code: uuid.UUID
    name: str
    query: str = Field(description="The job list's query string (its filters and tab).")
    shared: bool
    owner: str = Field(validation_alias="owner.username")


class SavedViewList(Schema):
    views: list[SavedView]


class SavedViewRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    filters: dict[str, str] = Field(
        default_factory=dict,
        description="The job list's filters, as `GET /api/v1/jobs` takes them.",
    )
    shared: bool = Field(False, description="Shown to everyone (operators only).")


# --- the audit log ------------------------------------------------------------------------

if TYPE_CHECKING:
    AuditAction = str
    AuditOutcome = str
    AuditVia = str
else:
    AuditAction = Literal[tuple(models.AuditEntry.Action.values)]
    AuditOutcome = Literal[tuple(models.AuditEntry.Outcome.values)]
    AuditVia = Literal[tuple(models.AuditEntry.Via.values)]


class AuditEntry(Schema):
    """One operator action. `jobs` lists up to 20 of the jobs it acted on."""

    at: UtcTime
    actor: str = Field(description="The user's name when they acted.")
    via: AuditVia
    action: AuditAction
    outcome: AuditOutcome
    summary: str
    account: Account | None
    job_count: Count
    jobs: list[uuid.UUID]
    detail: dict[str, Any]

    @staticmethod
    def resolve_jobs(entry: models.AuditEntry) -> list[uuid.UUID]:
        return list(entry.job_links.order_by("id").values_list("job__code", flat=True)[:20])


class AuditPage(Schema):
    entries: list[AuditEntry]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class AuditQuery(Schema):
    model_config = ConfigDict(json_schema_extra=_never_null, extra="forbid")

    user: str | None = Field(
        None, max_length=150, pattern=r"^[^\x00-\x1f]*$", description="Exact username."
    )
    action: AuditAction | None = None
    since: datetime | None = Field(None, description="Entries at or after this time.")
    job: uuid.UUID | None = Field(None, description="Entries that acted on this job.")
    cursor: str | None = Field(None, description="next_cursor from the previous page.")
    limit: WholeNumber = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Entries per page.")


# --- errors -------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: ErrorCode
    message: str


class Error(Schema):
    error: ErrorDetail
