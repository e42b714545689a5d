"""The notification receiver: `POST /hooks/<account code>/<secret>/`, one per account.

Providers call it without a session or CSRF token; the URL's secret (and, where the
provider signs, its signature) authenticates the call. Every refusal gets the same
answer, so a caller learns nothing about which check failed; the account's records say
why. The work is a few writes: the refresh loops do the asking (see
jobs/services/notifications.py).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from jobs import ratelimit
from jobs.models import Account, Notification
from jobs.services import notifications

# The largest notification read: CI's XML for a few jobs is a few KB.
MAX_BODY = 64 * 1024


def _refused() -> HttpResponse:
    return _quiet(HttpResponse("refused\n", status=403, content_type="text/plain"))


def _quiet(response: HttpResponse) -> HttpResponse:
    # Django logs every 4xx with its path, and this path holds the secret; a refusal's
    # reason is in the account's records instead.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@login_not_required
@csrf_exempt
def receive(request: HttpRequest, code: str, secret: str) -> HttpResponse:
    if request.method != "POST":
        return _quiet(HttpResponseNotAllowed(["POST"]))
    try:
        account = Account.objects.filter(code=uuid.UUID(code)).first()
    except ValueError:
        account = None
    if account is None:
        return _refused()
    # Counted before anything is read or written: a flood costs one counter per call.
    if ratelimit.rate_hit(
        "hooks", str(account.pk), limit=settings.CLAPBOARD_HOOK_RATE_PER_MINUTE, window=60
    ):
        return _refused()
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        notifications.notification_refuse(account=account, reason="body over 64 KB")
        return _refused()
    path = request.path
    url = settings.CLAPBOARD_BASE_URL + path if settings.CLAPBOARD_BASE_URL else None
    records = notifications.notification_receive(
        account=account,
        secret=secret,
        body=body,
        content_type=request.content_type or "",
        url=url or request.build_absolute_uri(path),
        query={key: request.GET.get(key, "") for key in request.GET},
        headers=request.headers,  # case-insensitive
    )
    if records[0].outcome == Notification.Outcome.REFUSED:
        return _refused()
    return HttpResponse("ok\n", content_type="text/plain")
