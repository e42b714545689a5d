"""The site's own error pages, with navigation, instead of Django's bare ones."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.template import loader

from jobs.roles import missing_role, user_roles


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: says which role the page needs and which one the user has.

    Views deny with `permission_required(..., raise_exception=True)`, which does not say
    what was missing; the roles are nested (Viewers ⊂ Operators ⊂ admin), so the role the
    user lacks first is the one the page needs.
    """
    user = request.user
    context = {
        "role_needed": missing_role(user) if user.is_authenticated else None,
        "roles": user_roles(user) if user.is_authenticated else [],
    }
    body = loader.render_to_string("403.html", context, request=request)
    return HttpResponseForbidden(body)
