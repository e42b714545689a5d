"""The token pages under /api/tokens/ and the JSON API under /api/v1/."""

from django.urls import path, re_path

from dashboard.api import app, pages

urlpatterns = [
    path("tokens/", pages.token_list, name="api-tokens"),
    path("tokens/<uuid:code>/revoke/", pages.token_revoke, name="api-token-revoke"),
    *app.urlpatterns(),
    # Last: anything else under v1/ answers with a JSON 404, not the HTML page.
    re_path(r"^v1/", app.not_found),
]
