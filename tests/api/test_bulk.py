"""POST /api/v1/bulk and GET /api/v1/bulk/{code}: operators start and follow bulk actions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from dashboard.api.app import openapi_document
from jobs.models import AuditEntry, BulkAction, Job
from jobs.services.api_tokens import api_token_create
from tests.test_api import error_code, get, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def token(operator) -> str:
    return api_token_create(user=operator, name="bulk script")[1]


def make(account, external_id, **fields) -> Job:
    fields.setdefault("next_poll_at", timezone.now() + timedelta(minutes=10))
    return Job.objects.create(account=account, external_id=external_id, state="running", **fields)


def test_an_operator_stops_watching_listed_jobs_and_follows_the_action(
    token, accounts, django_capture_on_commit_callbacks
):
    jobs = [make(accounts["tencent_ci"], f"ci-{n}") for n in range(3)]
    body = {"action": "stop_watching", "jobs": [str(j.code) for j in jobs[:2]]}
    with django_capture_on_commit_callbacks(execute=True):
        response = post("/api/v1/bulk", token, body)
    assert response.status_code == 202, response.content
    started = response.json()
    assert (started["action"], started["total"], started["state"]) == ("stop_watching", 2, "queued")
    followed = get(f"/api/v1/bulk/{started['code']}", token).json()
    assert (followed["state"], followed["done"], followed["skipped"]) == ("done", 2, 0)
    assert followed["summary"] == "2 no longer watched" and followed["finished_at"]
    assert Job.objects.filter(next_poll_at__isnull=True).count() == 2
    assert AuditEntry.objects.get(action="bulk").via == "api"


def test_a_filter_selects_every_matching_job_server_side(token, accounts):
    ci, ivh = accounts["tencent_ci"], accounts["tencent_ivh"]
    picked = [make(ci, "ci-1"), make(ci, "ci-2")]
    make(ivh, "ivh-1")
    response = post(
        "/api/v1/bulk", token, {"action": "refresh", "filter": {"account": str(ci.code)}}
    )
    assert response.status_code == 202
    assert sorted(BulkAction.objects.get().job_ids) == sorted(j.pk for j in picked)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"action": "refresh"}, "either jobs"),
        ({"action": "refresh", "jobs": [], "filter": {}}, "jobs"),
        ({"action": "refresh", "jobs": [str(uuid.uuid4())]}, "None of the selected jobs"),
        ({"action": "refresh", "filter": {"colour": "red"}}, "unknown filter 'colour'"),
        ({"action": "refresh", "filter": {"created_from": "soon"}}, "created_from"),
        ({"action": "explode", "filter": {}}, "action"),
        ({"action": "refresh", "filter": {"q": "nothing-matches"}}, "No job matches"),
    ],
)
def test_bad_requests_are_400_with_the_reason(token, accounts, body, words):
    make(accounts["tencent_ci"], "ci-1")
    response = post("/api/v1/bulk", token, body)
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert words in response.json()["error"]["message"]
    assert not BulkAction.objects.exists()


def test_an_unknown_code_among_known_ones_is_named(token, accounts):
    job, stranger = make(accounts["tencent_ci"], "ci-1"), str(uuid.uuid4())
    response = post("/api/v1/bulk", token, {"action": "refresh", "jobs": [str(job.code), stranger]})
    assert response.status_code == 400 and stranger in response.json()["error"]["message"]


def test_viewers_are_403_and_unknown_actions_404(viewer, token, accounts):
    job = make(accounts["tencent_ci"], "ci-1")
    viewer_token = api_token_create(user=viewer, name="viewer")[1]
    response = post("/api/v1/bulk", viewer_token, {"action": "refresh", "jobs": [str(job.code)]})
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert not BulkAction.objects.exists()
    bulk = BulkAction.objects.create(via="api", action="refresh", job_ids=[job.pk], total=1)
    assert get(f"/api/v1/bulk/{bulk.code}", viewer_token).status_code == 403
    missing = get(f"/api/v1/bulk/{uuid.uuid4()}", token)
    assert missing.status_code == 404 and error_code(missing) == "not_found"


def test_the_document_describes_both(token):
    paths = openapi_document()["paths"]
    assert set(paths["/api/v1/bulk"]) == {"post"}
    assert paths["/api/v1/bulk"]["post"]["operationId"] == "startBulk"
    assert paths["/api/v1/bulk/{code}"]["get"]["operationId"] == "getBulk"
