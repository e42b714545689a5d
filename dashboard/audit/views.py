"""The Audit page: operators' actions, newest first, filtered by user, action and time.
Read-only: nothing on this page (or anywhere in the UI) edits an entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from dashboard.paging import after_param, parse_after
from dashboard.requests import AuthenticatedHttpRequest
from jobs import selectors
from jobs.models import AuditEntry, Job

PAGE_SIZE = 50
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEntry.Action.choices]
    )
    window = forms.ChoiceField(
        required=False,
        label="Time",
        choices=[
            ("", "Any time"),
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
        ],
    )

    job = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def clean_job(self) -> Job | None:
        code = self.cleaned_data.get("job")
        if code is None:
            return None
        job = Job.objects.filter(code=code).only("code", "name", "external_id").first()
        if job is None:
            raise forms.ValidationError("No such job.")
        return job

    def filters(self) -> selectors.AuditFilters:
        data = self.cleaned_data
        window = WINDOWS.get(data.get("window") or "")
        return {
            "actor": data.get("user") or "",
            "action": data.get("action") or "",
            "since": timezone.now() - window if window else None,
            "job": data.get("job"),
        }


@require_safe
@permission_required("jobs.view_auditentry", raise_exception=True)
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/log.html", {"form": form, "invalid": True}, status=400)
    after = parse_after(request.GET.get("after", ""))
    page, has_next = selectors.audit_page(form.filters(), after=after, size=PAGE_SIZE)
    params: dict[str, Any] = {k: v for k, v in request.GET.items() if k != "after" and v}
    next_url = None
    if has_next:
        last = page[-1]
        next_url = "?" + urlencode({**params, "after": after_param(last.at, last.pk)})
    context = {
        "form": form,
        "entries": page,
        "next_url": next_url,
        "first_page_url": "?" + urlencode(params) if after else None,
        "filtered": bool(params),
    }
    return render(request, "audit/log.html", context)
