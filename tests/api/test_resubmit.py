"""POST /api/v1/jobs/{code}/resubmit over real HTTP against the simulator: as submitted
or edited (checked by the submit page's form), the links in the job JSON, the refusals
with their codes, and the endpoint in the OpenAPI document."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from dashboard.api import resubmit
from dashboard.api.app import openapi_document
from jobs.models import AuditEntry, Job
from jobs.providers.base import State
from jobs.services import job_submit
from jobs.services.api_tokens import api_token_create
from jobs.services.audit import Action, Outcome, Via
from jobs.simulator.clock import Phase

pytestmark = pytest.mark.django_db

PARAMS = {
    "input_object": "input/demo.mp4",
    "template_id": "",
    "audio_mode": "IsAudio",
    "codec": "mp3",
    "samplerate": 44100,
    "bitrate": 128,
    "channels": 2,
    "output_bucket": "out-1250000000",
    "output_region": "ap-guangzhou",
    "background_object": "",
    "voice_object": "output/voice.mp3",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def token(operator) -> str:
    return api_token_create(user=operator, name="ops")[1]


def _call(token: str, job: Job | str, body: object = None, *, raw: bytes | None = None):
    code = job.code if isinstance(job, Job) else job
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return Client().post(
        f"/api/v1/jobs/{code}/resubmit",
        data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _get(token: str, path: str):
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def _failed(simulator, account, operator) -> Job:
    """A job submitted through Clapboard that the provider then reported failed."""
    job = job_submit(account=account, params=PARAMS, user=operator)
    simulator.jobs[("tencent_ci", job.external_id)].pinned = Phase.FAILED
    Job.objects.filter(pk=job.pk).update(state=State.FAILED)
    job.refresh_from_db()
    return job


def _sent(simulator, code: str) -> dict:
    return simulator.jobs[("tencent_ci", Job.objects.get(code=code).external_id)].extra


def test_resubmit_as_submitted_answers_the_new_job_linked_both_ways(
    token, operator, simulator, accounts
):
    first = _failed(simulator, accounts["tencent_ci"], operator)
    response = _call(token, first)  # no body at all
    assert response.status_code == 201, response.content
    later = response.json()
    assert later["resubmission_of"] == str(first.code) and later["resubmitted_as"] is None
    assert later["external_id"] != first.external_id and later["events"]
    assert _sent(simulator, later["code"]) == _sent(simulator, str(first.code))
    assert Job.objects.get(code=later["code"]).submit_params == PARAMS

    shown = _get(token, f"/api/v1/jobs/{first.code}").json()
    assert shown["resubmitted_as"] == later["code"] and shown["resubmission_of"] is None
    listed = {job["code"]: job for job in _get(token, "/api/v1/jobs").json()["jobs"]}
    assert listed[str(first.code)]["resubmitted_as"] == later["code"]
    assert listed[later["code"]]["resubmission_of"] == str(first.code)
    entry = AuditEntry.objects.get(action=Action.RESUBMIT)
    assert (entry.outcome, entry.via, entry.job_count) == (Outcome.DONE, Via.API, 2)


def test_a_body_edits_the_fields_it_names(token, operator, simulator, accounts):
    first = _failed(simulator, accounts["tencent_ci"], operator)
    edits = {"voice_object": "output/v2.mp3", "bitrate": None, "samplerate": 48000}
    response = _call(token, first, edits)
    assert response.status_code == 201, response.content
    sent = _sent(simulator, response.json()["code"])
    assert sent["output"]["AuObject"] == "output/v2.mp3"
    config = sent["voice_separate"]["AudioConfig"]
    assert config["Samplerate"] == "48000" and "Bitrate" not in config
    stored = Job.objects.get(code=response.json()["code"]).submit_params
    assert stored == PARAMS | {"voice_object": "output/v2.mp3", "bitrate": "", "samplerate": 48000}
    detail = AuditEntry.objects.get(action=Action.RESUBMIT).detail
    assert detail["edited"] == ["bitrate", "samplerate", "voice_object"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"output_region": "mars-1"}, "output_region: “mars-1” is not a Tencent Cloud COS region"),
        ({"bitrate": 5000}, "bitrate: Bitrate (kbps) must be at most 1000."),
        ({"template_id": "t1"}, "template_id: Give a template ID or the audio settings"),
        ({"input_object": "a\x00b"}, "input_object:"),
        ({"account": "other"}, "Unknown field: account."),
        ({"bitrate": "many"}, "bitrate:"),
    ],
)
def test_edits_are_checked_as_the_submit_page_checks_them(
    body, message, token, operator, simulator, accounts
):
    first = _failed(simulator, accounts["tencent_ci"], operator)
    before = simulator.requests.get("tencent_ci", 0)
    response = _call(token, first, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and message in error["message"]
    assert simulator.requests.get("tencent_ci", 0) == before  # nothing was sent
    assert not Job.objects.filter(resubmission_of=first).exists()


def test_a_body_that_is_not_json_is_invalid(token, operator, simulator, accounts):
    first = _failed(simulator, accounts["tencent_ci"], operator)
    for raw in (b"{", b"[]", b'"x"'):
        response = _call(token, first, raw=raw)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_refusals_are_conflicts_with_the_reason(token, operator, simulator, accounts):
    account = accounts["tencent_ci"]
    running = job_submit(account=account, params=PARAMS, user=operator)
    tracked = Job.objects.create(account=account, external_id="j-tracked", state=State.FAILED)
    first = _failed(simulator, account, operator)
    assert _call(token, first).status_code == 201
    cases = {
        running: f"still {running.state} — cancel it first",
        tracked: "not submitted through Clapboard",
        first: "already resubmitted as",
    }
    for job, reason in cases.items():
        for body in (None, {"voice_object": "output/other.mp3"}):
            response = _call(token, job, body)
            assert response.status_code == 409, response.content
            error = response.json()["error"]
            assert error["code"] == "conflict" and reason in error["message"]
    assert Job.objects.count() == 4  # only the one accepted resubmission was added
    refused = AuditEntry.objects.filter(action=Action.RESUBMIT, outcome=Outcome.REFUSED)
    assert refused.count() == 6 and {e.via for e in refused} == {Via.API}


def test_a_provider_refusal_is_a_provider_error(token, operator, simulator, accounts):
    first = _failed(simulator, accounts["tencent_ci"], operator)
    simulator.inject("http_500", "tencent_ci")
    response = _call(token, first)
    assert response.status_code == 502
    error = response.json()["error"]
    assert (
        error["code"] == "provider_error" and "Tencent Cloud Infinite refused" in error["message"]
    )
    assert not Job.objects.filter(resubmission_of=first).exists()


def test_viewers_are_forbidden_and_unknown_jobs_not_found(
    viewer, token, operator, simulator, accounts
):
    first = _failed(simulator, accounts["tencent_ci"], operator)
    viewer_token = api_token_create(user=viewer, name="read")[1]
    response = _call(viewer_token, first)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert _call(token, str(uuid.uuid4())).json()["error"]["code"] == "not_found"
    assert not Job.objects.filter(resubmission_of=first).exists()
    assert not AuditEntry.objects.filter(action=Action.RESUBMIT).exists()


def test_the_openapi_document_lists_resubmit_with_its_body_and_answers():
    operation = openapi_document()["paths"]["/api/v1/jobs/{code}/resubmit"]["post"]
    assert operation["operationId"] == "resubmitJob"
    assert reverse("api-job-resubmit", args=[uuid.uuid4()]).endswith("/resubmit")
    assert {"201", "400", "401", "403", "404", "409", "429", "502"} <= set(operation["responses"])
    ref = operation["requestBody"]["content"]["application/json"]["schema"]
    name = (ref.get("$ref") or next(r["$ref"] for r in ref["anyOf"] if "$ref" in r)).split("/")[-1]
    body = openapi_document()["components"]["schemas"][name]
    assert set(body["properties"]) == set(resubmit.EDITABLE) and "account" not in body["properties"]
    assert body["additionalProperties"] is False
    job = openapi_document()["components"]["schemas"]["Job"]["properties"]
    assert {"resubmission_of", "resubmitted_as"} <= set(job)
