"""Saved views of the job list: save the current filters under a name, delete one.

The list's own form validates what is saved, so a saved view always opens a valid list.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.jobs.forms import JobFilterForm
from dashboard.requests import AuthenticatedHttpRequest
from jobs.models import SavedView
from jobs.services import InvalidInput
from jobs.services.saved_views import saved_view_create, saved_view_delete

# The list's parameters a view keeps: its filters and tab, not paging or the poll token.
KEPT = frozenset(JobFilterForm.base_fields)


def list_params(query: str) -> dict[str, str]:
    """The list parameters in a query string (the last value of each, empty ones out)."""
    return {k: v for k, v in parse_qsl(query) if k in KEPT and v}


@require_POST
@permission_required("jobs.view_job", raise_exception=True)
def saved_view_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    params = list_params(request.POST.get("query", ""))
    back = reverse("job-list") + ("?" + request.POST["query"] if params else "")
    form = JobFilterForm(params)
    if not form.is_valid():
        messages.error(request, "Not saved: these filters cannot be applied.")
        return redirect(back)
    # Sharing puts a link on everyone's list: operators may, viewers keep theirs.
    shared = request.POST.get("shared") == "on" and request.user.has_perm("jobs.operate_job")
    try:
        view = saved_view_create(
            owner=request.user, name=request.POST.get("name", ""), params=params, shared=shared
        )
    except InvalidInput as exc:
        messages.error(request, f"Not saved: {exc}.")
        return redirect(back)
    messages.success(request, f"Saved as “{view.name}”" + (", shared." if shared else "."))
    return redirect(reverse("job-list") + (f"?{view.query}" if view.query else ""))


@require_POST
@permission_required("jobs.view_job", raise_exception=True)
def saved_view_remove(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    view = get_object_or_404(SavedView, code=code)
    if not saved_view_delete(view=view, user=request.user):
        raise Http404("not your view")
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect("job-list")
