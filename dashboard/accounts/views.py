"""The account health page: each account's state, its jobs per state, its rate budget."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from dashboard.accounts.presenters import AccountHealth
from jobs import selectors
from jobs.models import STATE_CHOICES, Account, Notification
from jobs.services import notifications
from jobs.services.audit import Via
from jobs.services.usage import usage_last_hour


@permission_required("jobs.view_account", raise_exception=True)
def account_health(request: HttpRequest) -> HttpResponse:
    by_state = selectors.state_counts_by_account()
    used = usage_last_hour()
    notified = selectors.notification_summaries()
    rows = [
        AccountHealth(
            account, by_state.get(account.pk, {}), used.get(account.pk), notified.get(account.pk)
        )
        for account in selectors.accounts_with_oldest_poll()
    ]
    return render(
        request,
        "accounts/health.html",
        {"rows": rows, "states": [s for s, _ in STATE_CHOICES], "now": timezone.now()},
    )


# The records shown under an account's receiver (newest first).
NOTIFICATIONS_SHOWN = 100


@permission_required("jobs.view_account", raise_exception=True)
def account_notifications(request: HttpRequest, code: str) -> HttpResponse:
    """An account's notification receiver: its state, the newest records and, for those
    who may change accounts, a POST that creates or replaces the URL. The new URL is shown
    on the answer to that POST and nowhere else (only its hash is kept)."""
    account = get_object_or_404(Account.objects.defer("credentials"), code=code)
    url = ""
    if request.method == "POST":
        if not request.user.has_perm("jobs.change_account"):
            raise PermissionDenied
        secret = notifications.hook_secret_create(account=account, user=request.user, via=Via.WEB)
        url = notifications.hook_url(account, secret, base=request.build_absolute_uri("/"))
    # A record links its job by code: the job's big columns are never read for that.
    records = account.notifications.select_related("job").only(
        *(f.name for f in Notification._meta.concrete_fields), "job__code"
    )[:NOTIFICATIONS_SHOWN]
    context = {
        "account": account,
        "url": url,
        "records": records,
        "shown": NOTIFICATIONS_SHOWN,
        "retention_days": settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS,
    }
    return render(request, "accounts/notifications.html", context)
