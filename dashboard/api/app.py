"""The NinjaAPI behind /api/v1/: the router, our error shape, the OpenAPI document, and the
URL-level wrapper that keeps the whole API out of the session world (login, CSRF, caches).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.parser import Parser
from ninja.responses import NinjaJSONEncoder
from ninja.types import DictStrAny

from dashboard.api import auth, views
from dashboard.api import bulk as _bulk  # noqa: F401 - registers its endpoints on views.router
from dashboard.api import resubmit as _resubmit  # noqa: F401 - registers its endpoint
from dashboard.api.errors import ApiError, install_error_handlers
from jobs.services import api_tokens

PREFIX = "api/"  # where dashboard/urls.py mounts dashboard/api/urls.py
DESCRIPTION = (
    "Read and track video-production jobs. Authenticate with a personal API token "
    "(create one on /api/tokens/) in `Authorization: Bearer <token>`. Each token "
    f"may make {api_tokens.API_RATE_LIMIT} requests per "
    f"{api_tokens.API_RATE_WINDOW} s. Errors carry a stable `code`."
)


class _Parser(Parser):
    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> DictStrAny:
        # As in the page's form: `?state=` means any state, not an invalid one.
        parsed = super().parse_querydict(data, list_fields, request)
        return {name: value for name, value in parsed.items() if value != ""}

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        try:
            return json.loads(request.body)  # type: ignore[no-any-return]
        except (ValueError, RecursionError):
            raise ApiError("invalid", "The request body is not valid JSON.") from None


class ClapboardApi(NinjaAPI):
    def get_content_type(self) -> str:
        return "application/json"  # JSON is UTF-8 by definition (RFC 8259); no charset

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        """ninja's document, with the names clients of the first version already know."""
        document = super().get_openapi_schema(path_prefix=PREFIX)
        schemes = document["components"]["securitySchemes"]
        schemes["bearerAuth"] = schemes.pop(type(auth.VIEW).__name__)
        for operations in document["paths"].values():
            operations.pop("head", None)  # HEAD is GET without the body
            for operation in operations.values():
                if "security" in operation:
                    operation["security"] = [{"bearerAuth": []}]
        document.pop("servers", None)  # empty: the document is served by the API itself
        return document


api = ClapboardApi(
    title="Clapboard API",
    version="1",
    description=DESCRIPTION,
    openapi_url=None,  # served below as an operation, so the document describes itself
    # No docs page: the API never had one, and ninja's Swagger UI would be a new page (and
    # "ninja" static files) to vet against the CSP; the JSON document is what clients use.
    docs_url=None,
    parser=_Parser(),
    urls_namespace="api-v1",
)
install_error_handlers(api)
api.add_router("v1/", views.router)


@cache
def openapi_document() -> dict[str, Any]:
    """The API described as OpenAPI 3.1, as JSON would carry it (status codes as strings)."""
    text = json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder)
    return json.loads(text)  # type: ignore[no-any-return]


@api.api_operation(
    ["GET", "HEAD"],
    "v1/openapi.json",
    auth=None,
    response={200: dict[str, Any]},
    operation_id="getOpenApi",
    summary="This document",
    description="OpenAPI 3.1; needs no token.",
    url_name="api-openapi",
)
def openapi(request: HttpRequest) -> dict[str, Any]:
    return openapi_document()


@login_not_required
@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other URL under /api/v1/: a JSON 404 rather than the HTML page."""
    return ApiError("not_found", "No such API endpoint.").response()


def _outside_sessions(
    view: Callable[..., HttpResponse], *, public: bool
) -> Callable[..., HttpResponse]:
    """Exempt a ninja view from the login middleware and CSRF (the only credential is the
    Authorization header, which a browser never sends on its own), answer a wrong method
    in our error shape, and keep token-authenticated answers out of shared caches."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = sorted(response["Allow"].split(", "))
            methods = [method for method in allowed if method != "HEAD"]
            response = ApiError(
                "method_not_allowed",
                f"Use {' or '.join(methods)} here.",
                {"Allow": ", ".join(allowed)},
            ).response()
        if not public:
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ["Authorization"])
        return response

    return login_not_required(csrf_exempt(wrapper))


def urlpatterns() -> list[URLPattern]:
    """ninja's URL patterns (one per operation) with the wrapper above, one per route."""
    patterns: dict[str, URLPattern] = {}
    for pattern in api.urls[0]:
        if not isinstance(pattern, URLPattern) or pattern.name == "api-root":
            continue  # ninja's root only helps it reverse its own prefix; ours is fixed
        route = str(pattern.pattern)
        if route not in patterns:
            view = _outside_sessions(pattern.callback, public=pattern.name == "api-openapi")
            patterns[route] = URLPattern(pattern.pattern, view, name=pattern.name)
    return list(patterns.values())
