from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.api import app, errors, schemas
from dashboard.api import urls as api_urls
from jobs.models import ApiToken, AuditEntry, Job, JobEvent, RateCounter
from jobs.providers import PROVIDERS
from jobs.services import api_tokens, watching
from jobs.services.api_tokens import api_token_create, api_token_resolve, api_token_revoke
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def viewer_token(viewer) -> str:
    return api_token_create(user=viewer, name="viewer script")[1]


@pytest.fixture
def operator_token(operator) -> str:
    return api_token_create(user=operator, name="operator script")[1]


def get(path: str, token: str | None = None, **params):
    client = Client(enforce_csrf_checks=True)
    return client.get(path, params, **(bearer(token) if token else {}))


def post(path: str, token: str | None = None, body=None, raw: bytes | None = None):
    client = Client(enforce_csrf_checks=True)
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return client.post(
        path, data, content_type="application/json", **(bearer(token) if token else {})
    )


def error_code(response) -> str:
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return body["error"]["code"]


def make(account, external_id, state="running", **fields) -> Job:
    job = Job.objects.create(account=account, external_id=external_id, state=state, **fields)
    JobEvent.objects.create(job=job, state=state)
    return job


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [job["external_id"] for job in response.json()["jobs"]]


JOBS = "/api/v1/jobs"


# --- tokens -------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_with_a_prefix(viewer):
    api_token, token = api_token_create(user=viewer, name="  reports  ")
    assert re.fullmatch(r"cb_[A-Za-z0-9_-]{43}", token)
    assert api_token.name == "reports" and api_token.prefix == token[:8]
    assert token not in api_token.token_hash and len(api_token.token_hash) == 64
    assert api_token_resolve(token) == api_token
    assert api_token_resolve(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert api_token_resolve("cb_short") is None and api_token_resolve("") is None
    assert api_token_revoke(api_token=api_token, user=viewer) is True
    assert api_token_revoke(api_token=api_token, user=viewer) is False
    assert api_token_resolve(token) is None


def test_last_used_is_written_at_most_once_a_minute(viewer):
    api_token, token = api_token_create(user=viewer, name="t")
    now = timezone.now()
    api_token_resolve(token, now=now)
    api_token_resolve(token, now=now + timedelta(seconds=30))
    api_token.refresh_from_db()
    assert api_token.last_used_at == now
    api_token_resolve(token, now=now + timedelta(seconds=61))
    api_token.refresh_from_db()
    assert api_token.last_used_at == now + timedelta(seconds=61)


def test_tokens_of_deactivated_users_stop_working(viewer, viewer_token):
    viewer.is_active = False
    viewer.save()
    assert error_code(get(JOBS, viewer_token)) == "unauthorized"


# --- authentication and permissions -------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer cb_" + "x" * 43, "Token abc"],
)
def test_missing_or_invalid_token_is_401_json(header, accounts):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = Client().get(JOBS, **headers)
    assert response.status_code == 401 and error_code(response) == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(viewer, viewer_token):
    assert get(JOBS, viewer_token).status_code == 200
    api_token_revoke(api_token=ApiToken.objects.get(user=viewer), user=viewer)
    response = get(JOBS, viewer_token)
    assert response.status_code == 401 and error_code(response) == "unauthorized"


def test_session_cookie_alone_is_not_accepted(operator_client, operator, accounts):
    job = make(accounts["tencent_ci"], "ci-1")
    assert operator_client.get(reverse("job-list")).status_code == 200  # the session works
    for response in (
        operator_client.get(JOBS),
        operator_client.get(f"/api/v1/jobs/{job.code}"),
        operator_client.post(f"/api/v1/jobs/{job.code}/refresh"),
        operator_client.post(
            "/api/v1/track", {"account": "x", "task_ids": ["a"]}, content_type="application/json"
        ),
    ):
        assert response.status_code == 401 and error_code(response) == "unauthorized"


def test_token_user_decides_even_with_someone_elses_session(
    viewer_token, operator_client, accounts
):
    job = make(accounts["tencent_ci"], "ci-1")
    response = operator_client.post(f"/api/v1/jobs/{job.code}/refresh", **bearer(viewer_token))
    assert response.status_code == 403 and error_code(response) == "forbidden"


def test_viewer_reads_but_cannot_track_or_refresh(viewer_token, accounts, monkeypatch):
    queued = []
    monkeypatch.setattr(watching, "async_task", lambda *args, **kwargs: queued.append(args))
    job = make(accounts["tencent_ci"], "ci-1")
    assert ids(get(JOBS, viewer_token)) == ["ci-1"]
    assert get(f"/api/v1/jobs/{job.code}", viewer_token).status_code == 200
    response = post(f"/api/v1/jobs/{job.code}/refresh", viewer_token)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    body = {"account": accounts["tencent_ci"].name, "task_ids": ["new"]}
    response = post("/api/v1/track", viewer_token, body)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert queued == [] and Job.objects.count() == 1


def test_outsider_token_is_forbidden_everywhere(outsider, accounts):
    token = api_token_create(user=outsider, name="t")[1]
    job = make(accounts["tencent_ci"], "ci-1")
    for response in (get(JOBS, token), get(f"/api/v1/jobs/{job.code}", token)):
        assert response.status_code == 403 and error_code(response) == "forbidden"


def test_api_is_csrf_exempt_and_uncached(operator_token, accounts, monkeypatch):
    monkeypatch.setattr(watching, "async_task", lambda *args, **kwargs: None)
    job = make(accounts["tencent_ci"], "ci-1")
    response = post(f"/api/v1/jobs/{job.code}/refresh", operator_token)  # no CSRF token
    assert response.status_code == 202
    assert "no-store" in response["Cache-Control"] and "Authorization" in response["Vary"]
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


# --- listing and filters ------------------------------------------------------------------


def test_job_fields_carry_no_secrets(viewer_token, accounts):
    account = accounts["aliyun_ice"]
    make(
        account,
        "ice-1",
        "failed",
        name="promo",
        failure_code="InvalidInput",
        raw={"Secret": "[redacted]"},
        duration_ms=1234,
        created_at=timezone.now() - timedelta(hours=1),
    )
    response = get(JOBS, viewer_token)
    (job,) = response.json()["jobs"]
    assert job["account"] == {"code": str(account.code), "name": account.name}
    assert job["provider"] == "aliyun_ice" and job["state"] == "failed"
    assert job["failure_code"] == "InvalidInput" and job["duration_ms"] == 1234
    assert job["created_at"].endswith("+00:00") and job["started_at"] is None
    assert "raw" not in job
    text = response.content.decode()
    for secret in account.credentials.values():
        assert str(secret) not in text


def test_filters_combine_like_the_list_page(viewer_token, accounts):
    vod, ci = accounts["tencent_vod"], accounts["tencent_ci"]
    make(vod, "vod-alpha", "failed", name="alpha promo", kind="Procedure")
    make(vod, "vod-beta", "running", name="beta promo", kind="Procedure")
    make(ci, "ci-alpha", "failed", name="alpha voice", kind="VoiceSeparate")
    old = make(ci, "ci-old", "succeeded", created_at=timezone.now() - timedelta(days=10))

    assert ids(get(JOBS, viewer_token, q="alpha", state="failed", provider="tencent_vod")) == [
        "vod-alpha"
    ]
    assert ids(get(JOBS, viewer_token, account=str(ci.code), q="ci-al")) == ["ci-alpha"]
    assert set(ids(get(JOBS, viewer_token, kind="Procedure"))) == {"vod-alpha", "vod-beta"}
    assert set(ids(get(JOBS, viewer_token, state="failed"))) == {"vod-alpha", "ci-alpha"}
    today = timezone.now().date()
    assert ids(get(JOBS, viewer_token, created_from=str(today + timedelta(days=1)))) == []
    old_day = str(old.created_at.date())
    assert ids(get(JOBS, viewer_token, created_from=old_day, created_to=old_day)) == ["ci-old"]
    assert "ci-old" not in ids(get(JOBS, viewer_token, created_from=str(today)))
    # The API and the page agree on the same query.
    params = {"provider": "tencent_ci", "state": "failed"}
    page = Client()
    page.force_login(ApiToken.objects.get().user)
    rows = page.get(reverse("job-list"), params).context["rows"]
    assert ids(get(JOBS, viewer_token, **params)) == [row.job.external_id for row in rows]


def test_cursor_pagination_walks_every_job_exactly_once(viewer_token, accounts):
    base = timezone.now()
    for n in range(20):
        # Groups of three share a tracked_at, so the id breaks ties.
        make(accounts["tencent_ivh"], f"p{n:02}", tracked_at=base - timedelta(seconds=n // 3))
    make(accounts["tencent_ivh"], "micro", tracked_at=base - timedelta(microseconds=1))
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = get(JOBS, viewer_token, **params).json()
        assert len(body["jobs"]) <= 3
        seen += [job["external_id"] for job in body["jobs"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 21 and pages == 7
    expected = list(
        Job.objects.order_by("-tracked_at", "-id").values_list("external_id", flat=True)
    )
    assert seen == expected
    # Filters hold across pages.
    first = get(JOBS, viewer_token, limit=2, q="p0").json()
    rest = get(JOBS, viewer_token, limit=200, q="p0", cursor=first["next_cursor"]).json()
    assert [j["external_id"] for j in first["jobs"] + rest["jobs"]] == [
        external_id for external_id in expected if external_id.startswith("p0")
    ]
    assert rest["next_cursor"] is None


def test_default_limit_is_fifty(viewer_token, accounts):
    for n in range(51):
        make(accounts["tencent_ivh"], f"d{n}")
    body = get(JOBS, viewer_token).json()
    assert len(body["jobs"]) == 50 and body["next_cursor"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"limit": "1_0"},
        {"cursor": "not-a-cursor"},
        {"cursor": base64.urlsafe_b64encode(b"99999999999999999999:1").decode()},
        {"cursor": base64.urlsafe_b64encode(b"1:2:3").decode()},
        {"cursor": "\u00e9"},
        {"state": "exploded"},
        {"provider": "nope"},
        {"account": "not-a-uuid"},
        {"account": "00000000-0000-0000-0000-000000000000"},
        {"created_from": "yesterday"},
        {"q": "x" * 256},
        {"q": "a\x00b"},
        {"colour": "red"},
    ],
)
def test_bad_parameters_are_400_invalid(params, viewer_token, accounts):
    response = get(JOBS, viewer_token, **params)
    assert response.status_code == 400 and error_code(response) == "invalid"


# --- one job ------------------------------------------------------------------------------


def test_job_detail_has_events_words_and_subtitles(viewer_token, accounts):
    job = make(
        accounts["tencent_ivh"],
        "ivh-1",
        "succeeded",
        words=[
            {"text": "Hello world", "words": [["Hello", 0, 400], ["world", 450, 900]]},
            "garbage",
        ],
        subtitles="1\n00:00:00,000 --> 00:00:00,900\nHello world\n",
    )
    JobEvent.objects.create(job=job, state="succeeded", progress=100, note="done")
    response = get(f"/api/v1/jobs/{job.code}", viewer_token)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == str(job.code) and body["external_id"] == "ivh-1"
    assert [e["state"] for e in body["events"]] == ["succeeded", "succeeded"]
    assert body["events"][-1] | {"at": None} == {
        "at": None,
        "state": "succeeded",
        "provider_state": "",
        "progress": 100,
        "queue_position": None,
        "failure_code": "",
        "failure_message": "",
        "note": "done",
        "kind": "",
    }
    assert body["words"] == [
        {"text": "Hello world", "words": [["Hello", 0, 400], ["world", 450, 900]]}
    ]
    assert body["subtitles"].startswith("1\n00:00:00,000") and "raw" not in body


def test_unknown_job_and_unknown_route_are_404_json(viewer_token, accounts):
    for path in (
        "/api/v1/jobs/00000000-0000-0000-0000-000000000000",
        "/api/v1/jobs/not-a-uuid",
        "/api/v1/nothing-here",
    ):
        response = get(path, viewer_token)
        assert response.status_code == 404 and error_code(response) == "not_found"


def test_wrong_method_is_405_json(operator_token, accounts):
    job = make(accounts["tencent_ci"], "ci-1")
    for response in (
        post(JOBS, operator_token),
        get("/api/v1/track", operator_token),
        get(f"/api/v1/jobs/{job.code}/refresh", operator_token),
        Client().delete(f"/api/v1/jobs/{job.code}", **bearer(operator_token)),
    ):
        assert response.status_code == 405 and error_code(response) == "method_not_allowed"
        assert response["Allow"]


# --- tracking and refreshing --------------------------------------------------------------


def test_track_checks_each_id_with_the_provider(operator_token, simulator, accounts):
    account = accounts["tencent_ci"]
    for n in (1, 2):
        simulator.add_job("tencent_ci", f"j-ci-{n}", pinned="running")
    existing = Job.objects.create(account=account, external_id="j-ci-2")
    body = {"account": str(account.code), "task_ids": ["j-ci-1", "j-ci-2", "j-missing", "j-ci-1"]}
    response = post("/api/v1/track", operator_token, body)
    assert response.status_code == 200, response.content
    results = {r["task_id"]: r for r in response.json()["results"]}
    assert {task_id: r["outcome"] for task_id, r in results.items()} == {
        "j-ci-1": "tracked",
        "j-ci-2": "already tracked",
        "j-missing": "not found",
    }
    tracked = Job.objects.get(account=account, external_id="j-ci-1")
    assert results["j-ci-1"]["job"] == str(tracked.code) and tracked.state == "running"
    assert results["j-ci-2"]["job"] == str(existing.code)
    assert results["j-missing"]["job"] is None and results["j-missing"]["message"]
    assert not Job.objects.filter(external_id="j-missing").exists()
    text = response.content.decode()
    assert all(str(value) not in text for value in account.credentials.values())


def test_track_verification_ends_in_time_and_watches_the_rest_unverified(
    operator_token, simulator, accounts, monkeypatch
):
    from jobs.services import tracking as services

    # IVH asks one ID per request; each answer takes 0.4 s, the call may spend 1 s.
    monkeypatch.setattr(services, "TRACK_VERIFY_SECONDS", 1.0)
    simulator.latency = 0.4
    ids = [f"ivh-v{n}" for n in range(20)]
    for external_id in ids:
        simulator.add_job("tencent_ivh", external_id, pinned="running", pinned_progress=5)
    started = time.monotonic()
    response = post(
        "/api/v1/track", operator_token, {"account": "sim-tencent_ivh", "task_ids": ids}
    )
    assert time.monotonic() - started < 5  # not 20 × 0.4 s
    assert response.status_code == 200, response.content
    assert [r["outcome"] for r in response.json()["results"]] == ["tracked"] * 20
    assert simulator.requests["tencent_ivh"] < 20
    # Every ID is watched; those not asked yet are due for the poller to verify.
    jobs = Job.objects.filter(account=accounts["tencent_ivh"])
    assert jobs.count() == 20 and jobs.filter(version=0, next_poll_at__isnull=False).exists()


def test_track_by_account_name_and_provider_errors(operator_token, simulator, accounts):
    simulator.inject("http_500", "aliyun_ice")
    body = {"account": accounts["aliyun_ice"].name, "task_ids": ["a1"]}
    (result,) = post("/api/v1/track", operator_token, body).json()["results"]
    assert result["outcome"] == "error" and "InternalError" in result["message"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps({"account": "sim-tencent_ci"}).encode(),
        json.dumps({"account": "sim-tencent_ci", "task_ids": []}).encode(),
        json.dumps({"account": "sim-tencent_ci", "task_ids": "a,b"}).encode(),
        json.dumps({"account": "sim-tencent_ci", "task_ids": [1]}).encode(),
        json.dumps({"account": "sim-tencent_ci", "task_ids": ["a"] * 501}).encode(),
        json.dumps({"account": "no-such-account", "task_ids": ["a"]}).encode(),
        json.dumps({"account": "00000000-0000-0000-0000-000000000000", "task_ids": ["a"]}).encode(),
        json.dumps({"account": 7, "task_ids": ["a"]}).encode(),
        json.dumps({"account": "sim-tencent_ci", "task_ids": ["a"], "extra": 1}).encode(),
    ],
)
def test_bad_track_requests_are_400_invalid(raw, operator_token, accounts):
    response = post("/api/v1/track", operator_token, raw=raw)
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert not Job.objects.exists()


def test_disabled_account_cannot_track(operator_token, accounts):
    account = accounts["tencent_ci"]
    account.enabled = False
    account.save()
    response = post("/api/v1/track", operator_token, {"account": account.name, "task_ids": ["a"]})
    assert response.status_code == 400 and "disabled" in response.json()["error"]["message"]


def test_refresh_enqueues_like_the_page(operator_token, accounts, monkeypatch):
    queued = []
    monkeypatch.setattr(watching, "async_task", lambda *args, **kwargs: queued.append(args))
    job = make(accounts["tencent_ci"], "ci-1")
    response = post(f"/api/v1/jobs/{job.code}/refresh", operator_token)
    assert response.status_code == 202 and response.json() == {"queued": True}
    (entry,) = AuditEntry.objects.filter(action="refresh")
    assert queued == [("jobs.tasks.job_refresh", job.pk, entry.pk)]
    assert (entry.via, entry.outcome) == ("api", "requested")
    response = post("/api/v1/jobs/00000000-0000-0000-0000-000000000000/refresh", operator_token)
    assert response.status_code == 404 and error_code(response) == "not_found"


@pytest.mark.django_db(transaction=True)  # the refresh engine's threads must see the rows
def test_refresh_polls_the_provider(operator_token, simulator, accounts):
    simulator.add_job("tencent_ivh", "ivh-act", pinned="running", pinned_progress=33)
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-act", state="running"
    )
    assert post(f"/api/v1/jobs/{job.code}/refresh", operator_token).status_code == 202
    job.refresh_from_db()
    assert job.progress == 33  # the task ran (sync in tests) and polled the simulator


# --- rate limit ---------------------------------------------------------------------------


WINDOW_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # windows are aligned on the minute


def test_rate_limit_per_token(viewer, viewer_token, accounts, monkeypatch):
    monkeypatch.setattr(api_tokens, "API_RATE_LIMIT", 3)
    other = api_token_create(user=viewer, name="other")[1]
    with time_machine.travel(WINDOW_START + timedelta(seconds=15), tick=False) as clock:
        assert [get(JOBS, viewer_token).status_code for _ in range(3)] == [200] * 3
        response = get(JOBS, viewer_token)
        assert response.status_code == 429 and error_code(response) == "rate_limited"
        assert response["Retry-After"] == "45"
        assert get(JOBS, other).status_code == 200  # a budget per token
        clock.move_to(WINDOW_START + timedelta(seconds=60))  # the next window
        assert get(JOBS, viewer_token).status_code == 200


def test_the_token_budget_is_shared_by_every_process(viewer, viewer_token, accounts, monkeypatch):
    monkeypatch.setattr(api_tokens, "API_RATE_LIMIT", 2)
    with time_machine.travel(WINDOW_START + timedelta(seconds=15), tick=False):
        assert [get(JOBS, viewer_token).status_code for _ in range(2)] == [200] * 2
        cache.clear()  # another web process has its own memory, not its own budget
        assert get(JOBS, viewer_token).status_code == 429
    assert RateCounter.objects.get(key__startswith="api:").count == 3


# --- the token page -----------------------------------------------------------------------


def test_token_page_creates_shows_once_lists_prefix_and_revokes(viewer_client, viewer, accounts):
    response = csrf_post(viewer_client, reverse("api-tokens"), {"name": "nightly report"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    token = response.context["new_token"]
    html = response.content.decode()
    assert token.startswith("cb_") and token in html
    api_token = ApiToken.objects.get(user=viewer)
    assert api_token.name == "nightly report"
    assert get(JOBS, token).status_code == 200

    listing = viewer_client.get(reverse("api-tokens")).content.decode()
    assert token not in listing and f"{api_token.prefix}…" in listing
    assert "nightly report" in listing and "active" in listing

    revoke = reverse("api-token-revoke", args=[api_token.code])
    assert csrf_post(viewer_client, revoke).status_code == 302
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    assert get(JOBS, token).status_code == 401
    assert "revoked" in viewer_client.get(reverse("api-tokens")).content.decode()


def test_token_page_needs_a_name_and_csrf(viewer_client, viewer):
    response = csrf_post(viewer_client, reverse("api-tokens"), {"name": "  "})
    assert response.status_code == 200 and not response.context["new_token"]
    assert not ApiToken.objects.exists()
    response = viewer_client.post(reverse("api-tokens"), {"name": "no csrf"})
    assert response.status_code == 403 and not ApiToken.objects.exists()


def test_others_cannot_revoke_or_see_your_tokens(operator_client, viewer, viewer_token):
    api_token = ApiToken.objects.get(user=viewer)
    html = operator_client.get(reverse("api-tokens")).content.decode()
    assert api_token.prefix not in html and "viewer script" not in html
    response = csrf_post(operator_client, reverse("api-token-revoke", args=[api_token.code]))
    assert response.status_code == 404
    api_token.refresh_from_db()
    assert api_token.revoked_at is None


def test_token_page_access(outsider_client, client, viewer_client):
    assert outsider_client.get(reverse("api-tokens")).status_code == 403
    response = client.get(reverse("api-tokens"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert 'href="/api/tokens/"' in viewer_client.get(reverse("job-list")).content.decode()


def test_active_tokens_are_capped(viewer, monkeypatch):
    monkeypatch.setattr(api_tokens, "ACTIVE_TOKENS_PER_USER", 2)
    api_token_create(user=viewer, name="a")
    api_token_create(user=viewer, name="b")
    with pytest.raises(api_tokens.InvalidInput):
        api_token_create(user=viewer, name="c")


# --- the OpenAPI document -----------------------------------------------------------------


def _api_routes() -> set[str]:
    routes = set()
    for pattern in api_urls.urlpatterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLPattern) and route.startswith("v1/") and "^" not in route:
            routes.add("/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return routes


def _deref(document, node):
    """`node`, or what its $ref points at."""
    for part in node.get("$ref", "#").removeprefix("#").strip("/").split("/"):
        if part:
            document = document[part]
    return document if "$ref" in node else node


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_openapi_document_is_public_and_describes_every_route(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == _api_routes()
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for ref in _refs(document):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # every $ref resolves
    operation_ids = []
    for path, operations in document["paths"].items():
        for name in re.findall(r"{(\w+)}", path):
            for operation in operations.values():
                assert any(p["name"] == name and p["in"] == "path" for p in operation["parameters"])
        for method, operation in operations.items():
            assert method in {"get", "post"} and operation["responses"]
            operation_ids.append(operation["operationId"])
            if path != "/api/v1/openapi.json":
                assert "401" in operation["responses"] and "429" in operation["responses"]
    assert len(operation_ids) == len(set(operation_ids))
    list_parameters = {p["name"] for p in document["paths"]["/api/v1/jobs"]["get"]["parameters"]}
    assert list_parameters == schemas.LIST_PARAMETERS
    error = _deref(document, document["components"]["schemas"]["Error"]["properties"]["error"])
    assert set(error["properties"]["code"]["enum"]) == set(errors.ERROR_STATUS)
    job = document["components"]["schemas"]["Job"]
    assert set(job["properties"]["provider"]["enum"]) == set(PROVIDERS)


def test_openapi_document_validates_against_the_openapi_schema():
    from openapi_spec_validator import validate

    validate(app.openapi_document())


def test_responses_match_the_documented_fields(viewer_token, accounts):
    job = make(accounts["tencent_ci"], "ci-1")
    schemas = app.openapi_document()["components"]["schemas"]
    listed = get(JOBS, viewer_token).json()
    assert set(listed) == set(schemas["JobPage"]["required"])
    assert set(listed["jobs"][0]) == set(schemas["Job"]["required"])
    detail = get(f"/api/v1/jobs/{job.code}", viewer_token).json()
    detail_fields = set(schemas["JobDetail"]["required"])
    assert set(detail) == detail_fields and set(schemas["Job"]["required"]) < detail_fields
    assert set(detail["events"][0]) == set(schemas["Event"]["required"])


# --- fuzzing the list's parameters --------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_param_values = st.one_of(
    _text,
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.dates().map(str),
    st.sampled_from(["queued", "failed", "tencent_vod", "", "0", "200", "201"]),
    st.binary(max_size=30).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.tuples(st.integers(-(10**18), 10**18), st.integers(-5, 10**12)).map(
        lambda t: base64.urlsafe_b64encode(f"{t[0]}:{t[1]}".encode()).decode()
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(sorted(schemas.LIST_PARAMETERS | {"junk"})), _param_values, max_size=5
    )
)
def test_random_list_parameters_never_cause_a_server_error(params, viewer_token, accounts):
    cache.clear()  # keep the fuzzing inside the token's budget
    response = get(JOBS, viewer_token, **params)
    assert response.status_code in (200, 400), (params, response.content)
    if response.status_code == 400:
        assert error_code(response) == "invalid"
    else:
        assert set(response.json()) == {"jobs", "next_cursor"}


def test_failure_code_and_finish_time_filter_like_the_failures_page_links(viewer_token, accounts):
    vod = accounts["tencent_vod"]
    now = timezone.now()
    make(vod, "vod-f1", "failed", failure_code="InvalidInput", finished_at=now - timedelta(hours=2))
    make(vod, "vod-f2", "failed", failure_code="InvalidInput", finished_at=now - timedelta(days=3))
    make(vod, "vod-f3", "failed", failure_code="", finished_at=now - timedelta(hours=1))
    make(vod, "vod-run", "running")
    day_ago = (now - timedelta(days=1)).isoformat()
    assert set(ids(get(JOBS, viewer_token, failure_code="InvalidInput"))) == {"vod-f1", "vod-f2"}
    assert ids(get(JOBS, viewer_token, failure_code="-", state="failed")) == ["vod-f3"]
    found = ids(get(JOBS, viewer_token, failure_code="InvalidInput", finished_from=day_ago))
    assert found == ["vod-f1"]
    assert set(ids(get(JOBS, viewer_token, finished_to=day_ago))) == {"vod-f2"}
    response = get(JOBS, viewer_token, finished_from="yesterday")
    assert response.status_code == 400 and error_code(response) == "invalid"


def test_a_finish_time_with_an_offset_postgresql_refuses_is_the_same_instant(
    viewer_token, accounts
):
    # ISO 8601 allows "-20:29"; PostgreSQL takes offsets up to ±15:59 (it was a 500 there).
    vod = accounts["tencent_vod"]
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    make(vod, "vod-odd", "failed", finished_at=at)
    # Midnight at -20:29 is 20:29 UTC, after it finished; 08:00 at +20:00 is when it did.
    assert ids(get(JOBS, viewer_token, finished_to="2026-03-01T00:00:00-20:29")) == ["vod-odd"]
    assert ids(get(JOBS, viewer_token, finished_to="2026-03-01T08:00:00+20:00")) == []
    assert ids(get(JOBS, viewer_token, finished_from="2026-03-01T23:00:00+11:00")) == ["vod-odd"]


@pytest.mark.parametrize(
    ("since", "listed"),
    [
        ("2000-01-01T00:00:00-20:29", True),
        ("0001-01-01T00:00:00+10:00", True),  # before year 1 in UTC: before every entry
        ("9999-12-31T23:59:59-20:00", False),  # after the calendar's end in UTC
    ],
)
def test_the_audit_since_takes_any_offset(since, listed, operator_token, operator):
    AuditEntry.objects.create(actor="olivia", via="web", action="track", outcome="done")
    response = get("/api/v1/audit", operator_token, since=since)
    assert response.status_code == 200, response.content
    assert len(response.json()["entries"]) == (AuditEntry.objects.count() if listed else 0)
