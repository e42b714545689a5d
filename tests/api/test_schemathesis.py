"""Requests generated from the OpenAPI document, sent to a live server with a valid token:
whatever they hold, the API answers without a server error and as the document says."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.api.app import openapi_document
from jobs.models import Job
from jobs.services.api_tokens import api_token_create

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(live_server, operator, accounts):
    token = api_token_create(user=operator, name="schemathesis")[1]
    # A few real rows, so the list and its cursors have something to page through.
    for n in range(3):
        Job.objects.create(account=accounts["tencent_ci"], external_id=f"fuzz-{n}")
    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.config.update(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})
    schema.config.generation.update(max_examples=15, allow_x00=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.django_db(transaction=True)  # the live server's thread must see the rows
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_document(case):
    case.call_and_validate(checks=CHECKS)
