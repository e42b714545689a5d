"""Typed requests for the pages, as django-htmx and django-stubs document them: mypy then
knows `request.htmx` (set by HtmxMiddleware) and, behind a permission check, that
`request.user` is a signed-in User."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """A request that passed `permission_required` (so LoginRequiredMiddleware let it in)."""

    user: User


class AuthenticatedHtmxRequest(AuthenticatedHttpRequest, HtmxHttpRequest):
    pass
