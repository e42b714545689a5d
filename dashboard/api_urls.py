"""The JSON API under /api/v1/ and the token page under /api/tokens/."""

from django.urls import path, re_path

from dashboard import api

urlpatterns = [
    path("tokens/", api.token_list, name="api-tokens"),
    path("tokens/<uuid:code>/revoke/", api.token_revoke, name="api-token-revoke"),
    path("v1/jobs", api.job_list, name="api-jobs"),
    path("v1/jobs/<uuid:code>", api.job_detail, name="api-job"),
    path("v1/jobs/<uuid:code>/refresh", api.job_refresh, name="api-job-refresh"),
    path("v1/track", api.track, name="api-track"),
    path("v1/openapi.json", api.openapi, name="api-openapi"),
    # Last: anything else under v1/ answers with a JSON 404, not the HTML page.
    re_path(r"^v1/", api.not_found),
]
