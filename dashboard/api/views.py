"""The API's endpoints under /api/v1/, on one ninja Router.

Each takes validated input (ninja parses it with dashboard/api/schemas.py) and returns
models or dicts that ninja shapes with the response schema; refusals raise ApiError.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.cache import patch_vary_headers
from ninja import Query, Router, Schema
from ninja.responses import Status

from dashboard.api import auth, schemas
from dashboard.api.auth import ApiRequest
from dashboard.api.errors import ERROR_STATUS, ApiError
from dashboard.jobs import export
from dashboard.jobs.forms import JobFilterForm
from jobs import selectors
from jobs.listing import Sort, rows_after, sorted_rows
from jobs.models import Account, Job
from jobs.services import InvalidInput, job_request_refresh, job_track, jobs_cancel, saved_views
from jobs.services.audit import Via

router = Router()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ERROR_DOCS = {
    "invalid": "A parameter or the body is invalid (code invalid).",
    "unauthorized": "No token, or an invalid or revoked one (code unauthorized).",
    "forbidden": "The token's user lacks the permission (code forbidden).",
    "not_found": "No such job (code not_found).",
    "rate_limited": "The token's budget for this window is spent (code rate_limited).",
    "conflict": "The job is not in a state that allows this; the message says why (code conflict).",
    "provider_error": "The provider refused the request or could not be reached; the "
    "message gives its answer (code provider_error).",
}
_ERROR_HEADERS = {
    "unauthorized": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "rate_limited": {
        "Retry-After": {
            "description": "Seconds until the next window.",
            "schema": {"type": "integer"},
        }
    },
}
# Every token-authenticated call can meet these.
_AUTH_ERRORS = ("unauthorized", "forbidden", "rate_limited")


# The CSV answer as the document describes it (dashboard/jobs/export.py writes it).
CSV_CONTENT = {
    "text/csv": {
        "schema": {
            "type": "string",
            "description": "UTF-8, a header row, then one row per job: "
            + ", ".join(export.HEADER)
            + ". Times are UTC (ISO 8601, Z). stale_reason says why a row's data may no "
            "longer be current (empty: it is), in the job list's words. A cell that starts "
            "with = + - @ or a tab, CR or LF has a ' in front, so a spreadsheet shows it as "
            "text.",
        }
    }
}


def _endpoint(
    method: str,
    path: str,
    token_auth: auth.ApiTokenAuth,
    ok: type[Schema] | None,
    *errors: str,
    status: int = 200,
    ids: tuple[str, str],
    csv: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on the router: its success schema (None: no JSON), whether it also
    answers CSV, the errors it can answer and its (operationId, URL name); the
    docstring's first line is the summary, the rest the description. GET also answers
    HEAD, as Django's own views do; the document lists GET."""
    codes = (*errors, *_AUTH_ERRORS)
    documented: dict[int, dict[str, Any]] = {
        ERROR_STATUS[code]: {"description": _ERROR_DOCS[code]}
        | ({"headers": _ERROR_HEADERS[code]} if code in _ERROR_HEADERS else {})
        for code in codes
    }
    if csv:
        documented[status] = {"description": "OK", "content": CSV_CONTENT}

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        summary, _, description = (view.__doc__ or "").partition("\n")
        return router.api_operation(
            [method, "HEAD"] if method == "GET" else [method],
            path,
            auth=token_auth,
            response={status: ok} | {ERROR_STATUS[code]: schemas.Error for code in codes},
            operation_id=ids[0],
            url_name=ids[1],
            summary=summary.strip(),
            description=inspect.cleandoc(description) or None,
            openapi_extra={"responses": documented},
        )(view)

    return decorator


# --- cursors ------------------------------------------------------------------------------


def encode_cursor(job: Job) -> str:
    """Opaque to clients: the last row's (tracked_at in µs since the epoch, id).

    Integer microseconds, not a float timestamp, so rows that differ by 1 µs stay apart."""
    return _cursor(job.tracked_at, job.pk)


def _cursor(at: datetime, pk: int) -> str:
    micros = (at - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{pk}".encode()).decode().rstrip("=")


def encode_sort_cursor(sort: Sort, job: Job) -> str:
    """A list page's cursor: as encode_cursor under the default order, else the order's
    column, its key (µs for a time) and the id, so a cursor cannot continue another order."""
    if sort.is_default:
        return encode_cursor(job)
    key = job.sort_key  # type: ignore[attr-defined]  # annotated by jobs.listing
    value = (key - EPOCH) // timedelta(microseconds=1) if isinstance(key, datetime) else key
    text = f"{sort.param}:{value}:{job.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_sort_cursor(raw: str, sort: Sort) -> tuple[datetime | int, int]:
    """The (key, id) of a cursor encode_sort_cursor gave out under `sort`."""
    if sort.is_default:
        return decode_cursor(raw)
    invalid = ApiError("invalid", "cursor: not a cursor this API gave out for this sort.")
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (ValueError, binascii.Error):
        raise invalid from None
    param, _, rest = text.partition(":")
    match = re.fullmatch(r"(-?[0-9]{1,20}):([0-9]{1,19})", rest)
    if len(raw) > 96 or param != sort.param or not match:
        raise invalid
    try:
        key = int(match[1])
        return (EPOCH + timedelta(microseconds=key) if sort.timed else key), int(match[2])
    except OverflowError:
        raise invalid from None


def decode_cursor(raw: str) -> tuple[datetime, int]:
    invalid = ApiError("invalid", "cursor: not a cursor this API gave out.")
    if len(raw) > 64:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        micros, pk = text.split(":")
        if not (re.fullmatch(r"-?[0-9]{1,20}", micros) and re.fullmatch(r"[0-9]{1,19}", pk)):
            raise invalid
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, binascii.Error, OverflowError):
        raise invalid from None


# --- helpers ------------------------------------------------------------------------------


def _form_errors(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(str(error) for error in errors)}"
        for name, errors in form.errors.items()
    )


def with_links(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """`jobs` with what the Job shape reads beyond its columns: the codes of the job each
    one resubmitted and of its newest resubmission (an indexed lookup per row)."""
    later = Job.objects.filter(resubmission_of=OuterRef("pk")).order_by("-id").values("code")
    return jobs.annotate(
        resubmission_of_code=F("resubmission_of__code"), resubmitted_as_code=Subquery(later[:1])
    )


def _job(code: uuid.UUID) -> Job:
    found = Job.objects.select_related("account").defer("raw", "account__credentials")
    job: Job | None = with_links(found).filter(code=code).first()
    if job is None:
        raise ApiError("not_found", "No job with this code.")
    return job


def _account_for_tracking(reference: str) -> Account:
    lookup = Q(name=reference)
    try:
        lookup |= Q(code=uuid.UUID(reference))
    except ValueError:
        pass
    account = Account.objects.filter(lookup).first()
    if account is None:
        raise ApiError("invalid", f"account: no account {reference!r}.")
    if not account.enabled:
        raise ApiError("invalid", f"account: {account.name!r} is disabled.")
    return account


# --- endpoints ----------------------------------------------------------------------------


def _unknown_parameters(request: ApiRequest, known: frozenset[str]) -> None:
    unknown = sorted(set(request.GET) - known)
    if unknown:
        raise ApiError("invalid", f"Unknown parameter: {', '.join(unknown)}.")


def _filter_form(filters: schemas.JobFilterQuery) -> JobFilterForm:
    form = JobFilterForm(filters.form_data(), known_kinds_only=False)
    if not form.is_valid():
        raise ApiError("invalid", _form_errors(form))
    return form


def _csv(request: ApiRequest, filters: schemas.JobFilterQuery) -> StreamingHttpResponse:
    form = _filter_form(filters)
    given = {name: str(value) for name, value in filters.form_data().items() if value != ""}
    response = export.csv_response(
        request,
        form.filter(Job.objects.all()),
        sort=form.order,
        bom=False,
        via=Via.API,
        filters=given,
    )
    patch_vary_headers(response, ["Accept"])
    return response


@_endpoint(
    "GET", "jobs", auth.VIEW, schemas.JobPage, "invalid", ids=("listJobs", "api-jobs"), csv=True
)
def job_list(
    request: ApiRequest, filters: Query[schemas.JobListQuery], response: HttpResponse
) -> dict[str, Any] | StreamingHttpResponse:
    """List jobs, newest tracked first

    Needs the jobs.view_job permission. Filters combine, as on the job list page. With
    `Accept: text/csv` the answer is the CSV export of every matching job instead (as
    /api/v1/jobs.csv; without cursor and limit, which page the JSON list)."""
    _unknown_parameters(request, schemas.LIST_PARAMETERS)
    patch_vary_headers(response, ["Accept"])
    if request.get_preferred_type(["application/json", "text/csv"]) == "text/csv":
        paging = [name for name in schemas.PAGING if request.GET.get(name)]  # `?limit=`: none
        if paging:
            raise ApiError(
                "invalid",
                f"{', '.join(paging)}: page the JSON list; the CSV holds every matching job.",
            )
        return _csv(request, filters)
    form = _filter_form(filters)
    sort = form.order
    cursor = decode_sort_cursor(filters.cursor, sort) if filters.cursor else None
    rows = form.filter(Job.objects.select_related("account").only(*schemas.JOB_LIST_FIELDS))
    rows = sorted_rows(with_links(rows), sort)
    if cursor:
        rows = rows_after(rows, sort, *cursor)
    limit = filters.limit
    page = list(rows[: limit + 1])
    next_cursor = encode_sort_cursor(sort, page[limit - 1]) if len(page) > limit else None
    return {"jobs": page[:limit], "next_cursor": next_cursor}


@_endpoint(
    "GET", "jobs.csv", auth.VIEW, None, "invalid", ids=("exportJobs", "api-jobs-csv"), csv=True
)
def job_export(
    request: ApiRequest, filters: Query[schemas.JobFilterQuery]
) -> StreamingHttpResponse:
    """Export jobs as CSV, newest tracked first

    Needs the jobs.view_job permission. Every job the filters let through (they combine
    as on the job list page), streamed: the whole list, not a page. The same file as
    GET /api/v1/jobs with `Accept: text/csv`."""
    _unknown_parameters(request, schemas.FILTER_PARAMETERS)
    return _csv(request, filters)


@_endpoint(
    "GET", "jobs/{uuid:code}", auth.VIEW, schemas.JobDetail, "not_found", ids=("getJob", "api-job")
)
def job_detail(request: ApiRequest, code: uuid.UUID) -> Job:
    """One job with its events, word timings and subtitles

    Needs the jobs.view_job permission."""
    return _job(code)


@_endpoint(
    "POST",
    "jobs/{uuid:code}/refresh",
    auth.OPERATE,
    schemas.Queued,
    "not_found",
    status=202,
    ids=("refreshJob", "api-job-refresh"),
)
def job_refresh(request: ApiRequest, code: uuid.UUID) -> Status[dict[str, bool]]:
    """Ask the provider about the job now

    Needs the jobs.operate_job permission. The poll happens in the background within
    the account's rate limit (like the page's "Refresh now"); finished jobs are not polled
    again."""
    found = _job(code)
    job_request_refresh(job=found, user=request.user, via=Via.API)
    return Status(202, {"queued": True})


@_endpoint(
    "POST",
    "jobs/{uuid:code}/cancel",
    auth.OPERATE,
    schemas.CancelResponse,
    "not_found",
    ids=("cancelJob", "api-job-cancel"),
)
def job_cancel(request: ApiRequest, code: uuid.UUID) -> dict[str, str]:
    """Ask the provider to cancel the job

    Needs the jobs.operate_job permission. Only where the provider has a cancel API
    (Tencent CI, Huawei MetaStudio, Alibaba ICE) and only for jobs it has not started; the
    answer says what happened. An accepted cancel refreshes the job at once."""
    found = _job(code)
    (result,) = jobs_cancel(account=found.account, jobs=[found], user=request.user, via=Via.API)
    if result.accepted:
        job_request_refresh(job=found, user=request.user, via=Via.API)
    return {"outcome": result.outcome, "message": result.message}


@_endpoint(
    "POST", "track", auth.OPERATE, schemas.TrackResponse, "invalid", ids=("trackJobs", "api-track")
)
def track(request: ApiRequest, payload: schemas.TrackRequest) -> dict[str, Any]:
    """Start tracking task IDs

    Needs the jobs.operate_job permission. Each new ID is checked with the provider
    first; the result says what happened to each."""
    account = _account_for_tracking(payload.account)
    results = job_track(
        account=account,
        external_ids=payload.task_ids,
        verify=True,
        user=request.user,
        via=Via.API,
    )
    return {"results": results}


@_endpoint("GET", "audit", auth.AUDIT, schemas.AuditPage, "invalid", ids=("listAudit", "api-audit"))
def audit_list(request: ApiRequest, filters: Query[schemas.AuditQuery]) -> dict[str, Any]:
    """List the audit log, newest first

    Needs the jobs.view_auditentry permission (operators and admins). Read-only: no call
    changes an entry."""
    job = None
    if filters.job is not None:
        job = Job.objects.filter(code=filters.job).first()
        if job is None:
            raise ApiError("invalid", "job: no job with this code.")
    after = decode_cursor(filters.cursor) if filters.cursor else None
    page, more = selectors.audit_page(
        {
            "actor": filters.user or "",
            "action": filters.action or "",
            "since": filters.since,
            "job": job,
        },
        after=after,
        size=filters.limit,
    )
    next_cursor = _cursor(page[-1].at, page[-1].pk) if more else None
    return {"entries": page, "next_cursor": next_cursor}


@_endpoint("GET", "views", auth.VIEW, schemas.SavedViewList, ids=("listViews", "api-views"))
def saved_view_list(request: ApiRequest) -> dict[str, Any]:
    """Saved views of the job list: the token user's own, then those shared

    Needs the jobs.view_job permission."""
    return {"views": selectors.saved_views_for(request.user)}


@_endpoint(
    "POST",
    "views",
    auth.VIEW,
    schemas.SavedView,
    "invalid",
    status=201,
    ids=("createView", "api-view-create"),
)
def saved_view_create(request: ApiRequest, payload: schemas.SavedViewRequest) -> Status[Any]:
    """Save a view of the job list

    Needs the jobs.view_job permission; sharing needs jobs.operate_job. The filters are
    checked as the job list checks them."""
    params = {k: v for k, v in payload.filters.items() if v}
    unknown = sorted(set(params) - set(JobFilterForm.base_fields))
    if unknown:
        raise ApiError("invalid", f"filters: unknown {', '.join(unknown)}.")
    form = JobFilterForm(params, known_kinds_only=False)
    if not form.is_valid():
        raise ApiError("invalid", _form_errors(form))
    if payload.shared and not request.user.has_perm("jobs.operate_job"):
        raise ApiError("forbidden", "Only operators share views.")
    try:
        view = saved_views.saved_view_create(
            owner=request.user, name=payload.name, params=params, shared=payload.shared
        )
    except InvalidInput as exc:
        raise ApiError("invalid", f"{exc}.") from None
    return Status(201, view)
