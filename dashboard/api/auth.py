"""Bearer-token authentication for the API, over jobs/services/api_tokens.py.

API calls authenticate with `Authorization: Bearer <token>` and nothing else: the session
cookie is ignored, which is why the endpoints can be exempt from CSRF. Permissions are the
token owner's.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from dashboard.api.errors import ApiError
from jobs.models import ApiToken
from jobs.services import api_tokens

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="clapboard"'}


class ApiRequest(HttpRequest):
    auth: ApiToken  # set by ninja from what ApiTokenAuth returned


class ApiTokenAuth(HttpBearer):
    """Resolve the bearer token, spend one request of its budget, check `permission`.

    Replaces `request.user` with the token's owner, so a session that came along with the
    request never counts. Every refusal raises ApiError (401, 429 or 403)."""

    openapi_description = "A personal API token (cb_…) from /api/tokens/."

    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission

    def __call__(self, request: HttpRequest) -> ApiToken:
        scheme, _, credentials = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise ApiError(
                "unauthorized", "Send an API token: Authorization: Bearer <token>.", _CHALLENGE
            )
        return self.authenticate(request, credentials.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = api_tokens.api_token_resolve(token)
        if api_token is None:
            raise ApiError("unauthorized", "The API token is invalid or revoked.", _CHALLENGE)
        retry_after = api_tokens.api_rate_limit_hit(api_token)
        if retry_after is not None:
            raise ApiError(
                "rate_limited",
                f"Too many requests with this token; try again in {retry_after} s.",
                {"Retry-After": str(retry_after)},
            )
        request.user = api_token.user
        if not api_token.user.has_perm(self.permission):
            raise ApiError("forbidden", "This token's user may not do this.")
        return api_token


VIEW = ApiTokenAuth("jobs.view_job")
OPERATE = ApiTokenAuth("jobs.operate_job")
AUDIT = ApiTokenAuth("jobs.view_auditentry")
