"""The Failures page: what failed in a window, grouped by provider and failure code."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboard.failures.forms import FailuresForm
from dashboard.failures.presenters import FailuresPage, window_links


@permission_required("jobs.view_job", raise_exception=True)
@require_safe
def failures(request: HttpRequest) -> HttpResponse:
    form = FailuresForm(request.GET)
    params = {k: str(v) for k, v in request.GET.items() if k != "window" and v}
    context: dict[str, object] = {
        "form": form,
        "windows": window_links(form.chosen_window, params),
        # Clear drops the provider and account filters, not the window.
        "clearable": any(request.GET.get(name) for name in ("provider", "account")),
    }
    if not form.is_valid():
        # Never groups under a window or filter that looks applied but is not.
        return render(request, "failures/failures.html", {**context, "invalid": True}, status=400)
    page = FailuresPage(form.chosen_window, form.filters, timezone.now())
    return render(request, "failures/failures.html", {**context, "page": page})
