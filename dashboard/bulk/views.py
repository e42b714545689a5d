"""Bulk actions from the job list. The POST resolves the selection (the ticked rows, or
every job the list's filter matches, resolved here with the list's own filter), shows a
confirmation for destructive actions, then records the action and sends the operator to
its progress page; the work itself is a background task (jobs.services.bulk)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe

from dashboard.jobs import export
from dashboard.jobs.forms import JobFilterForm
from dashboard.requests import AuthenticatedHtmxRequest, AuthenticatedHttpRequest
from jobs.models import BulkAction, Job
from jobs.services import InvalidInput
from jobs.services import bulk as service
from jobs.services.audit import Via

SELECTION = ("action", "job", "all_matching", "confirmed", "csrfmiddlewaretoken")


def _filter_params(data: QueryDict) -> dict[str, str]:
    """The list's filters the form carried (whatever the list had in its URL)."""
    return {k: str(v) for k, v in data.items() if k not in SELECTION and v}


def _list_url(params: dict[str, str]) -> str:
    return reverse("job-list") + ("?" + urlencode(params) if params else "")


def _selection(data: QueryDict) -> list[int]:
    """The job ids the POST selects; raises InvalidInput with what is wrong."""
    if data.get("all_matching"):
        form = JobFilterForm(data)
        if not form.is_valid():
            raise InvalidInput("The list's filter is not valid; fix it, then select again.")
        return service.bulk_ids_of_filter(form.filters)
    return _ticked(data)


def _ticked(data: QueryDict) -> list[int]:
    """The ids of the ticked rows' job codes; raises InvalidInput with what is wrong."""
    codes = data.getlist("job")
    try:
        return service.bulk_ids_of_codes(str(uuid.UUID(str(c))) for c in codes)
    except ValueError as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput("A selected job is not a job code; select again.") from None


@require_POST
@permission_required("jobs.operate_job", raise_exception=True)
def bulk_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    params = _filter_params(request.POST)
    action = request.POST.get("action", "")
    try:
        if action not in BulkAction.Kind.values:
            raise InvalidInput("Choose an action for the selected jobs.")
        job_ids = _selection(request.POST)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect(_list_url(params))
    if action in service.DESTRUCTIVE and not request.POST.get("confirmed"):
        skipped = service.bulk_preview(action=action, job_ids=job_ids)
        context = {
            "action": BulkAction.Kind(action),
            "total": len(job_ids),
            "acting": len(job_ids) - sum(skipped.values()),
            "skipped_count": sum(skipped.values()),
            "skipped": skipped.most_common(),
            "all_matching": bool(request.POST.get("all_matching")),
            "codes": request.POST.getlist("job"),
            "params": params,
            "back": _list_url(params),
        }
        return render(request, "bulk/confirm.html", context)
    bulk = service.bulk_action_create(
        user=request.user, via=Via.WEB, action=action, job_ids=job_ids
    )
    return redirect("bulk-detail", code=bulk.code)


@require_POST
@permission_required("jobs.view_job", raise_exception=True)
def bulk_export(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The bar's "Export CSV": the ticked rows as the list's CSV file, streamed (a POST, so
    10,000 codes fit and the CSRF token guards it); "all matching" is simply the list's
    own export under the same filter (/jobs.csv), where the rows are not capped."""
    params = _filter_params(request.POST)
    if request.POST.get("all_matching"):
        return redirect(reverse("job-list-csv") + ("?" + urlencode(params) if params else ""))
    try:
        ids = _ticked(request.POST)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect(_list_url(params))
    jobs = Job.objects.filter(pk__in=ids)
    return export.csv_response(request, jobs, bom=True, via=Via.WEB, chosen=ids)


@require_safe
@permission_required("jobs.operate_job", raise_exception=True)
def bulk_detail(request: AuthenticatedHtmxRequest, code: str) -> HttpResponse:
    bulk = service.bulk_progress(bulk=get_object_or_404(BulkAction, code=code))
    context = {
        "bulk": bulk,
        "summary": service.bulk_summary(bulk),
        "waiting": service.bulk_waiting_reason(bulk),
        "skipped": sorted(bulk.detail.get("skipped", {}).items(), key=lambda kv: -kv[1]),
    }
    polled = bool(request.htmx) and not request.htmx.boosted
    return render(request, "bulk/detail.html" + ("#progress" if polled else ""), context)


@require_safe
@permission_required("jobs.operate_job", raise_exception=True)
def bulk_failed(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    bulk = service.bulk_progress(bulk=get_object_or_404(BulkAction, code=code))
    failures = service.bulk_failures(bulk=bulk)
    return render(request, "bulk/failed.html", {"bulk": bulk, "failures": failures})
