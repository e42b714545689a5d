"""The API's one error shape and the handlers that give every failure that shape.

Every error is `{"error": {"code": ..., "message": ...}}` with a code from ERROR_STATUS, so
clients branch on the code, never on the wording.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

ERROR_STATUS = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "rate_limited": 429,
    "provider_error": 502,
}
_STATUS_ERROR = {status: code for code, status in ERROR_STATUS.items()}


class ApiError(Exception):
    """Ends an API call with the JSON error for `code` (a key of ERROR_STATUS)."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse(
            {"error": {"code": self.code, "message": self.message}},
            status=ERROR_STATUS[self.code],
        )
        for name, value in self.headers.items():
            response[name] = value
        return response


def validation_message(errors: list[dict[str, Any]]) -> str:
    """One line for what pydantic found wrong, each part led by the field it is about."""
    unknown, parts = [], []
    for error in errors:
        source, *where = error["loc"]
        if source == "body":
            where = where[1:]  # the view's argument name, not a field the client sent
        if error["type"] == "extra_forbidden":
            unknown.append(str(where[-1]))
        elif not where:
            parts.append("The request body must be a JSON object.")
        else:
            parts.append(f"{'.'.join(str(part) for part in where)}: {error['msg']}.")
    if unknown:
        parts.insert(0, f"Unknown field: {', '.join(sorted(unknown))}.")
    return " ".join(parts)


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return ApiError("invalid", validation_message(exc.errors)).response()


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps whatever the body parser raises into HttpError(400); ours says more.
    if isinstance(exc.__cause__, ApiError):
        return exc.__cause__.response()
    return ApiError(_STATUS_ERROR.get(exc.status_code, "invalid"), exc.message).response()


def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return exc.response()


def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return ApiError("invalid", "The request body is too large.").response()


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace ninja's `{"detail": ...}` errors (and its 422) with ours."""
    api.exception_handler(ApiError)(_api_error)
    api.exception_handler(ValidationError)(_validation_error)
    api.exception_handler(HttpError)(_http_error)
    api.exception_handler(RequestDataTooBig)(_too_big)
