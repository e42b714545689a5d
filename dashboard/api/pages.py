"""The page where people create and revoke their API tokens (/api/tokens/).

A session page like the dashboard's others, not part of the token-authenticated API.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST

from jobs.models import ApiToken
from jobs.services import InvalidInput, api_tokens

TOKENS_SHOWN = 50


class SignedInRequest(HttpRequest):
    user: User  # permission_required lets only signed-in users through


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. “nightly report script”."
    )


@permission_required("jobs.view_job", raise_exception=True)
@require_http_methods(["GET", "POST"])
def token_list(request: SignedInRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_token = ""
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = api_tokens.api_token_create(
                user=request.user, name=form.cleaned_data["name"]
            )
        except InvalidInput as exc:
            form.add_error("name", str(exc))
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at"
    )[:TOKENS_SHOWN]
    context = {
        "form": form,
        "tokens": tokens,
        "new_token": new_token,
        "api_root": request.build_absolute_uri(reverse("api-jobs")),
        "openapi_url": reverse("api-openapi"),
    }
    response = render(request, "api/tokens.html", context)
    if new_token:
        # The one response that carries the token: keep it out of every cache.
        patch_cache_control(response, private=True, no_store=True)
    return response


@permission_required("jobs.view_job", raise_exception=True)
@require_POST
def token_revoke(request: SignedInRequest, code: uuid.UUID) -> HttpResponse:
    api_token = get_object_or_404(ApiToken, code=code, user=request.user)
    if api_tokens.api_token_revoke(api_token=api_token, user=request.user):
        messages.success(request, f"Token “{api_token.name}” revoked; it no longer works.")
    return redirect("api-tokens")
