"""A job's shape is written once (dashboard/api/schemas.py Job): the list reads exactly the
columns that shape needs, whatever the page size."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dashboard.api import schemas
from jobs.models import Job
from jobs.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db


def _list_queries(token: str) -> list[str]:
    cache.clear()  # the rate-limit store stays the same size for every call
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_a_list_page_costs_the_same_queries_for_one_job_or_fifty(viewer, accounts):
    token = api_token_create(user=viewer, name="t")[1]
    Job.objects.create(account=accounts["tencent_ci"], external_id="first", raw={"big": 1})
    _list_queries(token)  # the token's first use records its time; later ones do not
    one = _list_queries(token)
    for n in range(49):
        Job.objects.create(account=accounts["tencent_ci"], external_id=f"more-{n}")
    assert len(_list_queries(token)) == len(one)  # no column fetched row by row
    (rows,) = [sql for sql in one if 'FROM "jobs_job"' in sql]
    for column in ("raw", "words", "subtitles", "credentials"):
        assert f'."{column}"' not in rows  # left for the detail call, or never shown


def test_the_list_columns_come_from_the_job_schema():
    columns = set(schemas.JOB_LIST_FIELDS)
    assert {"account", "account__code", "account__name", "account__provider"} <= columns
    plain = {name for name in schemas.Job.model_fields if name not in ("account", "provider")}
    assert columns - plain == {"account", "account__code", "account__name", "account__provider"}
