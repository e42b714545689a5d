"""The account health page: each account's state, its jobs per state, its rate budget."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard.accounts.presenters import AccountHealth
from jobs import selectors
from jobs.models import STATE_CHOICES
from jobs.services.usage import usage_last_hour


@permission_required("jobs.view_account", raise_exception=True)
def account_health(request: HttpRequest) -> HttpResponse:
    by_state = selectors.state_counts_by_account()
    used = usage_last_hour()
    rows = [
        AccountHealth(account, by_state.get(account.pk, {}), used.get(account.pk))
        for account in selectors.accounts_with_oldest_poll()
    ]
    return render(
        request,
        "accounts/health.html",
        {"rows": rows, "states": [s for s, _ in STATE_CHOICES], "now": timezone.now()},
    )
