"""The JSON API (/api/v1/) and the page where people manage their API tokens.

API calls authenticate with `Authorization: Bearer <token>` and nothing else: the session
cookie is ignored, which is why the views can be exempt from CSRF. Permissions are the
token owner's. Every error is `{"error": {"code": ..., "message": ...}}` with a code from
ERROR_STATUS, so clients branch on the code, never on the wording.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache, wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import RequestDataTooBig
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_q.tasks import async_task

from dashboard.jobs import timings
from dashboard.jobs.forms import JobFilterForm
from jobs import api_tokens
from jobs.models import STATE_CHOICES, Account, ApiToken, Job, JobEvent
from jobs.providers import PROVIDERS
from jobs.services import TRACK_MAX_IDS, InvalidInput, TrackResult, job_track

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_TRACK_IDS = TRACK_MAX_IDS  # the Track page's cap too
LIST_PARAMETERS = frozenset(
    ("state", "provider", "account", "kind", "q", "created_from", "created_to", "cursor", "limit")
)
ERROR_STATUS = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "rate_limited": 429,
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What a list row needs; raw payloads, words and subtitles stay for the detail call.
LIST_FIELDS = (
    "code",
    "external_id",
    "name",
    "kind",
    "state",
    "provider_state",
    "progress",
    "queue_position",
    "failure_code",
    "failure_message",
    "media_url",
    "subtitles_url",
    "cover_url",
    "duration_ms",
    "created_at",
    "started_at",
    "finished_at",
    "tracked_at",
    "last_polled_at",
    "version",
    "account",
    "account__code",
    "account__name",
    "account__provider",
)


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


class ApiRequest(HttpRequest):
    api_token: ApiToken


def _authenticate(request: ApiRequest, permission: str | None) -> None:
    """Resolve the bearer token, spend one request of its budget and check `permission`.

    Replaces `request.user` with the token's owner, so a session that came along with the
    request never counts."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="clapboard"'}
    if scheme.lower() != "bearer" or not credentials.strip():
        raise ApiError(
            "unauthorized", "Send an API token: Authorization: Bearer <token>.", challenge
        )
    api_token = api_tokens.api_token_resolve(credentials.strip())
    if api_token is None:
        raise ApiError("unauthorized", "The API token is invalid or revoked.", challenge)
    retry_after = api_tokens.api_rate_limit_hit(api_token)
    if retry_after is not None:
        raise ApiError(
            "rate_limited",
            f"Too many requests with this token; try again in {retry_after} s.",
            {"Retry-After": str(retry_after)},
        )
    request.user = api_token.user
    request.api_token = api_token
    if permission and not api_token.user.has_perm(permission):
        raise ApiError("forbidden", "This token's user may not do this.")


def api_view(
    *methods: str, permission: str | None = None, public: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Make a view an API endpoint: token auth (unless `public`), JSON errors, no caching.

    Exempt from the login middleware and from CSRF: the only credential accepted is the
    Authorization header, which a browser never sends on its own."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: ApiRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in allowed:
                    raise ApiError(
                        "method_not_allowed",
                        f"Use {' or '.join(sorted(methods))} here.",
                        {"Allow": ", ".join(sorted(allowed))},
                    )
                if not public:
                    _authenticate(request, permission)
                response = view(request, *args, **kwargs)
            except ApiError as error:
                response = error.response()
            if not public:
                patch_cache_control(response, private=True, no_store=True)
                patch_vary_headers(response, ["Authorization"])
            return response

        return login_not_required(csrf_exempt(wrapper))

    return decorator


@login_not_required
@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other URL under /api/v1/: a JSON 404 rather than the HTML page."""
    return ApiError("not_found", "No such API endpoint.").response()


# --- representations --------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def job_data(job: Job) -> dict[str, Any]:
    """A job as the API shows it: no raw payload, no account credentials."""
    return {
        "code": str(job.code),
        "external_id": job.external_id,
        "name": job.name,
        "kind": job.kind,
        "provider": job.account.provider,
        "account": {"code": str(job.account.code), "name": job.account.name},
        "state": job.state,
        "provider_state": job.provider_state,
        "progress": job.progress,
        "queue_position": job.queue_position,
        "failure_code": job.failure_code,
        "failure_message": job.failure_message,
        "media_url": job.media_url,
        "subtitles_url": job.subtitles_url,
        "cover_url": job.cover_url,
        "duration_ms": job.duration_ms,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "tracked_at": _time(job.tracked_at),
        "last_polled_at": _time(job.last_polled_at),
        "version": job.version,
    }


def event_data(event: JobEvent) -> dict[str, Any]:
    return {
        "at": _time(event.at),
        "state": event.state,
        "provider_state": event.provider_state,
        "progress": event.progress,
        "queue_position": event.queue_position,
        "failure_code": event.failure_code,
        "failure_message": event.failure_message,
        "note": event.note,
        "kind": event.kind,
    }


def track_result_data(result: TrackResult) -> dict[str, Any]:
    return {
        "task_id": result.external_id,
        "outcome": result.outcome,
        "job": str(result.job.code) if result.job else None,
        "message": result.message,
    }


# --- cursors and parameters -------------------------------------------------------------


def encode_cursor(job: Job) -> str:
    """Opaque to clients: the last row's (tracked_at in µs since the epoch, id).

    Integer microseconds, not a float timestamp, so rows that differ by 1 µs stay apart."""
    micros = (job.tracked_at - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{job.pk}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[datetime, int]:
    invalid = ApiError("invalid", "cursor: not a cursor this API gave out.")
    if len(raw) > 64:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        micros, pk = text.split(":")
        if not (re.fullmatch(r"-?[0-9]{1,20}", micros) and re.fullmatch(r"[0-9]{1,19}", pk)):
            raise invalid
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, binascii.Error, OverflowError):
        raise invalid from None


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError("invalid", f"limit: a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def _form_errors(form: forms.Form) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


def _job(code: uuid.UUID) -> Job:
    job = Job.objects.select_related("account").defer("raw", "account__credentials")
    job = job.filter(code=code).first()
    if job is None:
        raise ApiError("not_found", "No job with this code.")
    return job


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        payload = json.loads(request.body)
    except RequestDataTooBig:
        raise ApiError("invalid", "The request body is too large.") from None
    except (ValueError, RecursionError):
        raise ApiError("invalid", "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError("invalid", "The request body must be a JSON object.")
    return payload


def _account_for_tracking(reference: Any) -> Account:
    if not isinstance(reference, str) or not reference.strip():
        raise ApiError("invalid", "account: give an account code or name.")
    reference = reference.strip()
    lookup = Q(name=reference)
    try:
        lookup |= Q(code=uuid.UUID(reference))
    except ValueError:
        pass
    account = Account.objects.filter(lookup).first()
    if account is None:
        raise ApiError("invalid", f"account: no account {reference!r}.")
    if not account.enabled:
        raise ApiError("invalid", f"account: {account.name!r} is disabled.")
    return account


# --- endpoints ----------------------------------------------------------------------------


@api_view("GET", permission="jobs.view_job")
def job_list(request: ApiRequest) -> JsonResponse:
    """The job list's filters, newest tracked first, a page at a time."""
    unknown = sorted(set(request.GET) - LIST_PARAMETERS)
    if unknown:
        raise ApiError("invalid", f"Unknown parameter: {', '.join(unknown)}.")
    limit = _limit(request.GET.get("limit"))
    cursor = decode_cursor(request.GET["cursor"]) if request.GET.get("cursor") else None
    form = JobFilterForm(request.GET, known_kinds_only=False)
    if not form.is_valid():
        raise ApiError("invalid", _form_errors(form))
    rows = form.filter(Job.objects.select_related("account").only(*LIST_FIELDS))
    rows = rows.order_by("-tracked_at", "-id")
    if cursor:
        tracked_at, pk = cursor
        rows = rows.filter(Q(tracked_at__lt=tracked_at) | Q(tracked_at=tracked_at, id__lt=pk))
    page = list(rows[: limit + 1])
    next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
    return JsonResponse(
        {"jobs": [job_data(job) for job in page[:limit]], "next_cursor": next_cursor}
    )


@api_view("GET", permission="jobs.view_job")
def job_detail(request: ApiRequest, code: uuid.UUID) -> JsonResponse:
    """One job with its history, word timings and subtitles."""
    found = _job(code)
    events = found.events.order_by("at", "id")
    words = [
        {"text": s.text, "words": [[w.text, w.start_ms, w.end_ms] for w in s.words]}
        for s in timings.sentences(found)
    ]
    return JsonResponse(
        {
            **job_data(found),
            "events": [event_data(event) for event in events],
            "words": words,
            "subtitles": found.subtitles or None,
        }
    )


@api_view("POST", permission="jobs.operate_job")
def job_refresh(request: ApiRequest, code: uuid.UUID) -> JsonResponse:
    """Poll the job soon, like the page's "Refresh now" (still within the rate limit)."""
    found = _job(code)
    async_task("jobs.tasks.job_refresh", found.pk, task_name=f"refresh job {found.pk}")
    return JsonResponse({"queued": True}, status=202)


@api_view("POST", permission="jobs.operate_job")
def track(request: ApiRequest) -> JsonResponse:
    """Track task IDs on an account, each checked with the provider first."""
    payload = _json_body(request)
    unknown = sorted(set(payload) - {"account", "task_ids"})
    if unknown:
        raise ApiError("invalid", f"Unknown field: {', '.join(unknown)}.")
    task_ids = payload.get("task_ids")
    if (
        not isinstance(task_ids, list)
        or not task_ids
        or not all(isinstance(task_id, str) for task_id in task_ids)
    ):
        raise ApiError("invalid", "task_ids: a non-empty list of strings.")
    if len(task_ids) > MAX_TRACK_IDS:
        raise ApiError("invalid", f"task_ids: at most {MAX_TRACK_IDS} per request.")
    account = _account_for_tracking(payload.get("account"))
    results = job_track(account=account, external_ids=task_ids, verify=True)
    return JsonResponse({"results": [track_result_data(result) for result in results]})


@api_view("GET", public=True)
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document())


# --- token management page ----------------------------------------------------------------

TOKENS_SHOWN = 50


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. “nightly report script”."
    )


@permission_required("jobs.view_job", raise_exception=True)
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
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
def token_revoke(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    api_token = get_object_or_404(ApiToken, code=code, user=request.user)
    if api_tokens.api_token_revoke(api_token=api_token, user=request.user):
        messages.success(request, f"Token “{api_token.name}” revoked; it no longer works.")
    return redirect("api-tokens")


# --- the OpenAPI document -----------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _responses(ok_status: str, ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    responses = {ok_status: ok}
    for name in errors:
        status = str(ERROR_STATUS[name])
        responses[status] = {"$ref": f"#/components/responses/{name}"}
    return responses


def _json_ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0}
JOB_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "The job's code (as in the dashboard's URLs).",
    "schema": {"type": "string", "format": "uuid"},
}


@cache
def openapi_document() -> dict[str, Any]:
    """The API described as OpenAPI 3.1; the tests check it against the URLconf."""
    states = [state for state, _ in STATE_CHOICES]
    job_properties: dict[str, Any] = {
        "code": {"type": "string", "format": "uuid"},
        "external_id": {"type": "string", "description": "The provider's task ID."},
        "name": {"type": "string"},
        "kind": {"type": "string", "description": "Provider task type / function / job type."},
        "provider": {"type": "string", "enum": list(PROVIDERS)},
        "account": {
            "type": "object",
            "required": ["code", "name"],
            "properties": {
                "code": {"type": "string", "format": "uuid"},
                "name": {"type": "string"},
            },
        },
        "state": {"type": "string", "enum": states},
        "provider_state": {"type": "string", "description": "The provider's own state value."},
        "progress": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "queue_position": NULLABLE_INT,
        "failure_code": {"type": "string"},
        "failure_message": {"type": "string"},
        "media_url": {"type": "string"},
        "subtitles_url": {"type": "string"},
        "cover_url": {"type": "string"},
        "duration_ms": {"type": ["integer", "null"]},
        "created_at": {**NULLABLE_TIME, "description": "When the provider created the task."},
        "started_at": NULLABLE_TIME,
        "finished_at": NULLABLE_TIME,
        "tracked_at": {
            "type": "string",
            "format": "date-time",
            "description": "When Clapboard first saw the job.",
        },
        "last_polled_at": NULLABLE_TIME,
        "version": {
            "type": "integer",
            "minimum": 0,
            "description": "Bumped on every visible change.",
        },
    }
    event_properties = {
        "at": {"type": "string", "format": "date-time"},
        "state": {"type": "string", "enum": states},
        "provider_state": {"type": "string"},
        "progress": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "queue_position": NULLABLE_INT,
        "failure_code": {"type": "string"},
        "failure_message": {"type": "string"},
        "note": {"type": "string"},
        "kind": {
            "type": "string",
            "enum": [kind for kind, _ in JobEvent.Kind.choices],
            "description": 'Empty for a status change; "failing", "recovered" (checks of the '
            'job started failing / were answered again) or "refresh" (a "Refresh now" outcome).',
        },
    }
    word = {
        "type": "array",
        "description": "[text, start_ms, end_ms]",
        "prefixItems": [{"type": "string"}, {"type": "integer"}, {"type": "integer"}],
        "minItems": 3,
        "maxItems": 3,
    }
    filters = [
        ("state", {"type": "string", "enum": states}, "Normalized state."),
        ("provider", {"type": "string", "enum": list(PROVIDERS)}, "Provider code."),
        ("account", {"type": "string", "format": "uuid"}, "Account code."),
        ("kind", {"type": "string", "maxLength": 100}, "Exact task type."),
        (
            "q",
            {"type": "string", "maxLength": 255},
            "Search: part of a task ID (a prefix below 3 characters) or of a name; any case.",
        ),
        (
            "created_from",
            {"type": "string", "format": "date"},
            "Created on or after this day (UTC; the provider's creation time, else tracking time).",
        ),
        (
            "created_to",
            {"type": "string", "format": "date"},
            "Created on or before this day (UTC). Dates run from 1970-01-01 to 9999-12-30.",
        ),
        ("cursor", {"type": "string"}, "next_cursor from the previous page."),
        (
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "Jobs per page.",
        ),
    ]
    error_codes = list(ERROR_STATUS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clapboard API",
            "version": "1",
            "description": (
                "Read and track video-production jobs. Authenticate with a personal API token "
                "(create one on /api/tokens/) in `Authorization: Bearer <token>`. Each token "
                f"may make {api_tokens.API_RATE_LIMIT} requests per "
                f"{api_tokens.API_RATE_WINDOW} s. Errors carry a stable `code`."
            ),
        },
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/v1/jobs": {
                "get": {
                    "operationId": "listJobs",
                    "summary": "List jobs, newest tracked first",
                    "description": "Needs the jobs.view_job permission. Filters combine.",
                    "parameters": [
                        {
                            "name": name,
                            "in": "query",
                            "required": False,
                            "description": description,
                            "schema": schema,
                        }
                        for name, schema, description in filters
                    ],
                    "responses": _responses(
                        "200",
                        _json_ok("A page of jobs.", _ref("JobPage")),
                        "invalid",
                        "unauthorized",
                        "forbidden",
                        "rate_limited",
                    ),
                }
            },
            "/api/v1/jobs/{code}": {
                "get": {
                    "operationId": "getJob",
                    "summary": "One job with its events, word timings and subtitles",
                    "description": "Needs the jobs.view_job permission.",
                    "parameters": [JOB_CODE],
                    "responses": _responses(
                        "200",
                        _json_ok("The job.", _ref("JobDetail")),
                        "unauthorized",
                        "forbidden",
                        "not_found",
                        "rate_limited",
                    ),
                }
            },
            "/api/v1/jobs/{code}/refresh": {
                "post": {
                    "operationId": "refreshJob",
                    "summary": "Ask the provider about the job now",
                    "description": (
                        "Needs the jobs.operate_job permission. The poll happens in the "
                        "background within the account's rate limit; finished jobs are "
                        "not polled again."
                    ),
                    "parameters": [JOB_CODE],
                    "responses": _responses(
                        "202",
                        _json_ok(
                            "Queued.",
                            {
                                "type": "object",
                                "required": ["queued"],
                                "properties": {"queued": {"const": True}},
                            },
                        ),
                        "unauthorized",
                        "forbidden",
                        "not_found",
                        "rate_limited",
                    ),
                }
            },
            "/api/v1/track": {
                "post": {
                    "operationId": "trackJobs",
                    "summary": "Start tracking task IDs",
                    "description": (
                        "Needs the jobs.operate_job permission. Each new ID is checked with "
                        "the provider first; the result says what happened to each."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("TrackRequest")}},
                    },
                    "responses": _responses(
                        "200",
                        _json_ok("One result per task ID.", _ref("TrackResponse")),
                        "invalid",
                        "unauthorized",
                        "forbidden",
                        "rate_limited",
                    ),
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json_ok("OpenAPI 3.1.", {"type": "object"})},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (cb_…) from /api/tokens/.",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "enum": error_codes},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Job": {
                    "type": "object",
                    "required": list(job_properties),
                    "properties": job_properties,
                },
                "JobPage": {
                    "type": "object",
                    "required": ["jobs", "next_cursor"],
                    "properties": {
                        "jobs": {"type": "array", "items": _ref("Job")},
                        "next_cursor": {
                            **NULLABLE_STRING,
                            "description": "Pass as `cursor` for the next page; null at the end.",
                        },
                    },
                },
                "Event": {
                    "type": "object",
                    "required": list(event_properties),
                    "properties": event_properties,
                },
                "Sentence": {
                    "type": "object",
                    "required": ["text", "words"],
                    "properties": {
                        "text": {"type": "string"},
                        "words": {"type": "array", "items": word},
                    },
                },
                "JobDetail": {
                    "allOf": [
                        _ref("Job"),
                        {
                            "type": "object",
                            "required": ["events", "words", "subtitles"],
                            "properties": {
                                "events": {"type": "array", "items": _ref("Event")},
                                "words": {"type": "array", "items": _ref("Sentence")},
                                "subtitles": {**NULLABLE_STRING, "description": "SRT text."},
                            },
                        },
                    ]
                },
                "TrackRequest": {
                    "type": "object",
                    "required": ["account", "task_ids"],
                    "additionalProperties": False,
                    "properties": {
                        "account": {"type": "string", "description": "Account code or name."},
                        "task_ids": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1,
                            "maxItems": MAX_TRACK_IDS,
                        },
                    },
                },
                "TrackResult": {
                    "type": "object",
                    "required": ["task_id", "outcome", "job", "message"],
                    "properties": {
                        "task_id": {"type": "string"},
                        "outcome": {
                            "type": "string",
                            "enum": ["tracked", "already tracked", "not found", "error"],
                        },
                        "job": {
                            "type": ["string", "null"],
                            "format": "uuid",
                            "description": "The job's code when it is tracked.",
                        },
                        "message": {"type": "string"},
                    },
                },
                "TrackResponse": {
                    "type": "object",
                    "required": ["results"],
                    "properties": {"results": {"type": "array", "items": _ref("TrackResult")}},
                },
            },
            "responses": {
                "invalid": _error_response("A parameter or the body is invalid (code invalid)."),
                "unauthorized": _error_response(
                    "No token, or an invalid or revoked one (code unauthorized).",
                    {"WWW-Authenticate": {"schema": {"type": "string"}}},
                ),
                "forbidden": _error_response("The token's user lacks the permission."),
                "not_found": _error_response("No such job (code not_found)."),
                "method_not_allowed": _error_response("Wrong HTTP method."),
                "rate_limited": _error_response(
                    "The token's budget for this window is spent (code rate_limited).",
                    {
                        "Retry-After": {
                            "description": "Seconds until the next window.",
                            "schema": {"type": "integer"},
                        }
                    },
                ),
            },
        },
    }
