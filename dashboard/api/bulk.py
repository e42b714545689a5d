"""The API's bulk actions: POST /api/v1/bulk starts one, GET /api/v1/bulk/{code} follows it;
POST /api/v1/jobs.csv exports selected jobs (the bar's "Export CSV").

Same service as the job list's bar (jobs.services.bulk): the selection is resolved here,
the work runs in the background. A POST is the client's confirmation: there is no
second step as on the page.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import StreamingHttpResponse
from ninja import Field, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from dashboard.api import auth
from dashboard.api.auth import ApiRequest
from dashboard.api.errors import ApiError
from dashboard.api.schemas import UtcTime
from dashboard.api.views import _endpoint, _form_errors
from dashboard.jobs import export
from dashboard.jobs.forms import JobFilterForm
from jobs.models import BulkAction, Job
from jobs.services import InvalidInput
from jobs.services import bulk as service
from jobs.services.audit import Via

FILTER_NAMES = sorted(JobFilterForm.base_fields)


class BulkRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    action: Literal["refresh", "stop_watching", "watch_again", "cancel"]
    jobs: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=service.BULK_MAX,
        description="Job codes. Give either this or `filter`.",
    )
    filter: dict[str, str] | None = Field(
        None,
        description="The job list's filters, as on GET /api/v1/jobs ("
        + ", ".join(FILTER_NAMES)
        + "): every job they match, resolved when the request arrives, at most "
        f"{service.BULK_MAX:,}.",
    )


class ExportRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    jobs: list[uuid.UUID] = Field(
        min_length=1,
        max_length=service.BULK_MAX,
        description=f"Job codes, 1 to {service.BULK_MAX:,}; each must be a job.",
    )


class BulkStatus(Schema):
    code: uuid.UUID
    action: Literal["refresh", "stop_watching", "watch_again", "cancel"]
    state: Literal["queued", "running", "waiting", "done"] = Field(
        description="waiting: a refresh whose jobs are due; the refresh engine polls them "
        "within each account's rate limit."
    )
    total: int
    done: int
    failed: int
    skipped: int
    skipped_reasons: dict[str, int] = Field(description="Skipped jobs by reason.")
    summary: str
    waiting_reason: str = Field(description='Why it is not moving, when known ("" else).')
    created_at: UtcTime
    started_at: UtcTime | None
    moved_at: UtcTime | None = Field(description="When a count last changed.")
    finished_at: UtcTime | None
    resumes: int = Field(
        description="How many times the run was handed to a new worker after its worker "
        "stopped (it goes on from where it got to; after 3, the rest fail)."
    )
    resumed_at: UtcTime | None = Field(description="When it was last resumed.")


def _status(bulk: BulkAction) -> dict[str, Any]:
    bulk = service.bulk_progress(bulk=bulk)
    fields = ("code", "action", "state", "total", "done", "failed", "skipped", "resumes")
    times = ("created_at", "started_at", "moved_at", "finished_at", "resumed_at")
    return {
        **{name: getattr(bulk, name) for name in (*fields, *times)},
        "skipped_reasons": bulk.detail.get("skipped", {}),
        "summary": service.bulk_summary(bulk),
        "waiting_reason": service.bulk_waiting_reason(bulk),
    }


def _ids_of_codes(jobs: list[uuid.UUID]) -> list[int]:
    """The ids of these job codes, newest first; ApiError when one is no job."""
    codes = list(dict.fromkeys(str(code) for code in jobs))
    try:
        ids = service.bulk_ids_of_codes(codes)
    except InvalidInput as exc:
        raise ApiError("invalid", f"jobs: {exc}") from None
    if len(ids) < len(codes):
        found = set(Job.objects.filter(pk__in=ids).values_list("code", flat=True))
        missing = next(code for code in codes if uuid.UUID(code) not in found)
        raise ApiError("invalid", f"jobs: {len(codes) - len(ids)} are no job ({missing}…).")
    return ids


def _selection(payload: BulkRequest) -> list[int]:
    if (payload.jobs is None) == (payload.filter is None):
        raise ApiError("invalid", "Give either jobs (codes) or filter, not both or neither.")
    if payload.jobs is not None:
        return _ids_of_codes(payload.jobs)
    filters = payload.filter or {}
    if unknown := sorted(set(filters) - set(FILTER_NAMES)):
        raise ApiError("invalid", f"filter: unknown filter {unknown[0][:40]!r}.")
    form = JobFilterForm(filters, known_kinds_only=False)
    if not form.is_valid():
        raise ApiError("invalid", f"filter: {_form_errors(form)}")
    return service.bulk_ids_of_filter(form.filters)


@_endpoint(
    "POST", "bulk", auth.OPERATE, BulkStatus, "invalid", status=202, ids=("startBulk", "api-bulk")
)
def bulk_create(request: ApiRequest, payload: BulkRequest) -> Status[dict[str, Any]]:
    """Start a bulk action on many jobs

    Needs the jobs.operate_job permission. Acts on the listed jobs or on every job the
    filter matches (at most 10,000), in the background: refresh marks them due for the
    refresh engine, stop_watching and watch_again change how they are watched, cancel asks
    the providers within each account's rate limit and skips what cannot be cancelled.
    Follow it with GET /api/v1/bulk/{code}."""
    try:
        job_ids = _selection(payload)
    except InvalidInput as exc:
        raise ApiError("invalid", str(exc)) from None
    bulk = service.bulk_action_create(
        user=request.user, via=Via.API, action=payload.action, job_ids=job_ids
    )
    return Status(202, _status(BulkAction.objects.get(pk=bulk.pk)))


@_endpoint(
    "GET",
    "bulk/{uuid:code}",
    auth.OPERATE,
    BulkStatus,
    "not_found",
    ids=("getBulk", "api-bulk-detail"),
)
def bulk_detail(request: ApiRequest, code: uuid.UUID) -> dict[str, Any]:
    """Follow a bulk action

    Needs the jobs.operate_job permission. The counts add up to total once state is
    done."""
    bulk = BulkAction.objects.filter(code=code).first()
    if bulk is None:
        raise ApiError("not_found", "No bulk action with this code.")
    return _status(bulk)


@_endpoint(
    "POST",
    "jobs.csv",
    auth.VIEW,
    None,
    "invalid",
    ids=("exportSelectedJobs", "api-jobs-csv-selected"),
    csv=True,
)
def job_export_selected(request: ApiRequest, payload: ExportRequest) -> StreamingHttpResponse:
    """Export selected jobs as CSV, newest tracked first

    Needs the jobs.view_job permission. The jobs given by code (up to 10,000; a code
    that is no job is refused), streamed with the same columns as GET /api/v1/jobs.csv,
    which exports every job a filter matches instead. Recorded in the audit log."""
    ids = _ids_of_codes(payload.jobs)
    jobs = Job.objects.filter(pk__in=ids)
    return export.csv_response(request, jobs, bom=False, via=Via.API, chosen=ids)
