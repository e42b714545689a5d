"""HTTP methods: GET endpoints answer HEAD as Django's views do, and a wrong method is a
JSON 405 listing the right ones (the document lists GET and POST only)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from jobs.models import Job
from jobs.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(operator) -> str:
    cache.clear()
    return api_token_create(user=operator, name="t")[1]


def test_get_endpoints_answer_head(token, accounts):
    job = Job.objects.create(account=accounts["tencent_ci"], external_id="ci-1")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    paths = ("/api/v1/jobs", "/api/v1/jobs.csv", f"/api/v1/jobs/{job.code}", "/api/v1/openapi.json")
    for path in paths:
        response = client.head(path)
        assert response.status_code == 200 and response.getvalue() == b""  # streamed or not


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("post", "/api/v1/jobs", "GET, HEAD"),
        ("put", "/api/v1/track", "POST"),
        ("delete", "/api/v1/openapi.json", "GET, HEAD"),
    ],
)
def test_wrong_method_names_the_right_ones(token, method, path, allow):
    response = getattr(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), method)(path)
    assert response.status_code == 405 and response["Allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_only_token_answers_are_kept_out_of_caches(token):
    document = Client().get("/api/v1/openapi.json")
    assert "Cache-Control" not in document  # public, the same for everyone
    refused = Client().get("/api/v1/jobs")
    assert refused.status_code == 401 and "no-store" in refused["Cache-Control"]
    assert "Authorization" in refused["Vary"]
