"""The CSV export in the API: /api/v1/jobs.csv, and /api/v1/jobs asked for text/csv; the
bearer token, the filters and the error shape of the rest of the API."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dashboard.api import app, schemas
from dashboard.jobs import export
from jobs.models import Job
from jobs.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db

CSV, JOBS = "/api/v1/jobs.csv", "/api/v1/jobs"


@pytest.fixture
def token(viewer) -> str:
    cache.clear()  # a fresh rate-limit budget
    return api_token_create(user=viewer, name="export script")[1]


def get(path: str, token: str | None, accept: str | None = None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    return Client().get(path, params, **headers)


def body_of(response) -> str:
    assert response.status_code == 200, response.content[:500]
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content).decode("utf-8")


def ids_in(text: str) -> list[str]:
    assert not text.startswith("\ufeff")  # scripts read it: no byte order mark
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [row["external_id"] for row in rows]


def error_of(response) -> dict[str, str]:
    assert response["Content-Type"] == "application/json" and not response.streaming
    return response.json()["error"]


@pytest.fixture
def jobs(accounts) -> list[Job]:
    vod, ci = accounts["tencent_vod"], accounts["tencent_ci"]
    return [
        Job.objects.create(account=vod, external_id="vod-alpha", state="failed", name="alpha"),
        Job.objects.create(account=vod, external_id="vod-beta", state="running", name="beta"),
        Job.objects.create(account=ci, external_id="ci-alpha", state="failed", name="alpha"),
    ]


def test_the_csv_has_the_json_lists_jobs_in_its_order(token, jobs):
    for params in ({}, {"state": "failed"}, {"q": "alpha", "provider": "tencent_ci"}):
        listed = [job["external_id"] for job in get(JOBS, token, **params).json()["jobs"]]
        assert ids_in(body_of(get(CSV, token, **params))) == listed, params
    response = get(CSV, token)
    assert response["Content-Disposition"].startswith('attachment; filename="clapboard-jobs-')
    assert "no-store" in response["Cache-Control"] and "Authorization" in response["Vary"]


def test_accept_text_csv_on_the_list_answers_the_same_file(token, jobs):
    file = body_of(get(CSV, token, state="failed"))
    negotiated = get(JOBS, token, "text/csv", state="failed")
    assert body_of(negotiated) == file and ids_in(file) == ["ci-alpha", "vod-alpha"]
    assert "Accept" in negotiated["Vary"]
    preferred = get(JOBS, token, "application/json;q=0.5, text/csv", state="failed", limit="")
    assert body_of(preferred) == file  # an empty parameter is no parameter, as in JSON
    for accept in (None, "*/*", "application/json", "text/csv;q=0.5, application/json"):
        response = get(JOBS, token, accept)
        assert response["Content-Type"] == "application/json", accept
        assert set(response.json()) == {"jobs", "next_cursor"} and "Accept" in response["Vary"]


def test_the_api_needs_a_token_that_may_view(token, jobs, outsider):
    for response in (get(CSV, None), get(JOBS, None, "text/csv"), get(CSV, "cb_" + "x" * 43)):
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"
    outsider_token = api_token_create(user=outsider, name="t")[1]
    for response in (get(CSV, outsider_token), get(JOBS, outsider_token, "text/csv")):
        assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert ids_in(body_of(get(CSV, token)))  # a viewer's token may


@pytest.mark.parametrize(
    ("path", "accept", "params", "says"),
    [
        (CSV, None, {"state": "exploded"}, "state"),
        (CSV, None, {"created_to": "9999-12-31"}, "Enter a date from 1970-01-01"),
        (CSV, None, {"account": "00000000-0000-0000-0000-000000000000"}, "account"),
        (CSV, None, {"limit": "10"}, "Unknown parameter: limit"),
        (CSV, None, {"colour": "red"}, "Unknown parameter: colour"),
        (JOBS, "text/csv", {"created_from": "yesterday"}, "created_from"),
        (JOBS, "text/csv", {"limit": "10"}, "limit: page the JSON list"),
        (JOBS, "text/csv", {"cursor": "abc", "state": "failed"}, "cursor: page the JSON list"),
    ],
)
def test_bad_parameters_are_a_json_400_not_a_file(token, jobs, path, accept, params, says):
    response = get(path, token, accept, **params)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and says in error["message"]


def test_the_csv_reads_only_the_light_columns(token, jobs):
    with CaptureQueriesContext(connection) as queries:
        body_of(get(CSV, token))
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "jobs_job"' in q["sql"]]
    assert reads
    for sql in reads:
        for column in ("words", "raw", "subtitles", "credentials"):
            assert f'."{column}"' not in sql, column


def test_the_document_lists_both_csv_answers():
    document = app.openapi_document()
    listed = document["paths"][CSV]["get"]
    assert listed["operationId"] == "exportJobs"
    assert set(listed["responses"]["200"]["content"]) == {"text/csv"}
    assert {p["name"] for p in listed["parameters"]} == schemas.FILTER_PARAMETERS
    assert {"400", "401", "403", "429"} <= set(listed["responses"])
    assert listed["security"] == [{"bearerAuth": []}]
    columns = listed["responses"]["200"]["content"]["text/csv"]["schema"]["description"]
    assert ", ".join(export.HEADER) in columns
    both = document["paths"][JOBS]["get"]["responses"]["200"]["content"]
    assert set(both) == {"application/json", "text/csv"}
    assert both["application/json"]["schema"] == {"$ref": "#/components/schemas/JobPage"}
    assert json.loads(Client().get("/api/v1/openapi.json").content) == document
