"""The one CSRF-checked POST the page tests make, as a browser makes it.

The clients of conftest.py check CSRF (`Client(enforce_csrf_checks=True)`), so a POST
without the token is refused there as it is in production; `csrf_post` sends the cookie
and the token, and insists on such a client, so a test cannot pass only because CSRF
was not checked.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.test import Client

# A CSRF secret as Django makes them: 32 characters of its alphabet. Sent unmasked as the
# token, which Django accepts.
CSRF_SECRET = "Csrf0Secret1For2Tests3Only4abcde"


def csrf_post(
    client: Client,
    url: str,
    data: dict[str, Any] | None = None,
    *,
    token: bool = True,
    htmx: bool = False,
    **extra: Any,
) -> HttpResponse:
    """POST `data` to `url` with the CSRF cookie and its token in the X-CSRFToken header
    (as htmx and the page's scripts send it; a form's hidden field is checked the same
    way). `token=False`: the cookie only, as a forged cross-site POST arrives: refused
    with 403. `htmx`: an htmx request. `extra` goes to Client.post (follow=True, ...).
    Raises AssertionError for a client that does not check CSRF."""
    if not client.handler.enforce_csrf_checks:
        raise AssertionError("csrf_post needs a CSRF-checking client (tests/conftest.py)")
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    headers = dict(extra.pop("headers", {}))
    if token:
        headers["X-CSRFToken"] = CSRF_SECRET
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(url, data or {}, headers=headers, **extra)
