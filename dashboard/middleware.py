"""Response headers Django 5.2 does not set by itself, and what htmx needs of a login redirect."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY unless a view set its own.

    The pages carry no inline scripts or style attributes (htmx is configured not to
    inject styles; the player positions elements through the CSSOM), so the policy needs
    no 'unsafe-inline'."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = "; ".join(
            f"{name} {' '.join(values)}"
            for name, values in settings.CONTENT_SECURITY_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class HtmxLoginRedirectMiddleware:
    """A login redirect answering an htmx request sends the whole browser to the login page.

    The XMLHttpRequest would follow a plain 302 by itself and htmx would swap the login
    form into the live region. Instead answer 401 with HX-Redirect, and `next` is the page
    the person was on (HX-Current-URL), not the partial's polling URL. Sits outside
    LoginRequiredMiddleware so it sees every such redirect, whatever page polled.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        return HttpResponseClientRedirect(
            f"{login}?{urlencode({'next': _page_path(request)})}", status=401
        )


def _page_path(request: HttpRequest) -> str:
    """The path of the page that sent this htmx request, if it is one of ours."""
    current = request.headers.get("HX-Current-URL", "")
    if current and url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"
