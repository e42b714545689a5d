"""Export CSV as a bulk action: the ticked rows POSTed to /bulk/export.csv, "all matching"
as the list's own /jobs.csv under the filter, the same selection by code on
POST /api/v1/jobs.csv, and an audit entry with the rows each export held."""

from __future__ import annotations

import csv
import functools
import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.jobs import export
from jobs import selectors
from jobs.models import AuditEntry, Job
from jobs.services.api_tokens import api_token_create
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db

EXPORT = reverse("bulk-export")
API = "/api/v1/jobs.csv"


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content[:300]
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="clapboard-jobs-')
    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == export.HEADER  # the list's own columns
    return list(reader)


@pytest.fixture
def jobs(accounts) -> list[Job]:
    now = timezone.now()
    return [
        Job.objects.create(
            account=accounts["tencent_ci"],
            external_id=f"ci-{n}",
            state="failed" if n % 2 else "running",
            tracked_at=now - timedelta(minutes=n),
        )
        for n in range(5)
    ]


def test_the_bar_offers_export_csv_to_the_selection(operator_client, jobs):
    html = operator_client.get(reverse("job-list")).content.decode()
    bar = html[html.index('id="bulk-form"') :]
    assert f'formaction="{EXPORT}"' in bar[: bar.index("</form>")]


def test_the_ticked_rows_are_exported_newest_first_and_audited(operator_client, jobs):
    ticked = [jobs[3], jobs[0], jobs[1]]
    response = csrf_post(operator_client, EXPORT, {"job": [str(j.code) for j in ticked]})
    rows = rows_of(response)
    assert [row["external_id"] for row in rows] == ["ci-0", "ci-1", "ci-3"]
    assert rows[0]["code"] == str(jobs[0].code) and rows[0]["state"] == "running"
    (entry,) = AuditEntry.objects.filter(action="export")
    assert (entry.outcome, entry.via, entry.job_count) == ("done", "web", 3)
    assert entry.summary == "Exported 3 jobs as CSV (3 selected jobs)"
    assert entry.user.username == "olivia" and entry.detail == {"selected": 3}
    assert set(entry.job_links.values_list("job_id", flat=True)) == {j.pk for j in ticked}


def test_all_matching_is_the_lists_export_under_the_filter(operator_client, jobs):
    data = {"all_matching": "1", "state": "failed", "job": str(jobs[0].code)}
    response = csrf_post(operator_client, EXPORT, data)
    assert response.status_code == 302
    assert response["Location"] == reverse("job-list-csv") + "?state=failed"
    rows = rows_of(operator_client.get(response["Location"]))
    assert [row["external_id"] for row in rows] == ["ci-1", "ci-3"]
    (entry,) = AuditEntry.objects.filter(action="export")
    assert entry.summary == "Exported 2 jobs as CSV (the job list)"
    assert entry.detail == {"filter": {"state": "failed"}} and entry.job_count == 0


def test_the_export_needs_the_csrf_token_and_a_user_who_may_view(
    operator_client, outsider_client, jobs
):
    data = {"job": str(jobs[0].code)}
    assert csrf_post(operator_client, EXPORT, data, token=False).status_code == 403
    assert csrf_post(outsider_client, EXPORT, data).status_code == 403
    assert operator_client.get(EXPORT).status_code == 405
    assert not AuditEntry.objects.filter(action="export").exists()


@pytest.mark.parametrize(
    "data, says",
    [
        ({}, "Select at least one job."),
        ({"job": "not-a-code"}, "A selected job is not a job code; select again."),
        ({"job": "00000000-0000-0000-0000-000000000000"}, "None of the selected jobs exists"),
    ],
)
def test_a_bad_selection_goes_back_to_the_list_saying_why(operator_client, jobs, data, says):
    response = csrf_post(operator_client, EXPORT, {**data, "state": "failed"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("job-list") + "?state=failed"
    assert says in response.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()


def test_a_download_that_breaks_off_is_audited_as_such(operator, operator_client, jobs, rf):
    response = csrf_post(operator_client, EXPORT, {"job": [str(j.code) for j in jobs]})
    assert not AuditEntry.objects.filter(action="export").exists()  # nothing sent yet
    assert rows_of(response)  # read to its end: audited as done
    AuditEntry.objects.all().delete()
    # The file as csv_response writes it, closed after its first piece as the server
    # closes it when the client goes away.
    request = rf.post(EXPORT)
    request.user = operator
    rows = list(selectors.job_export_rows(Job.objects.all(), export.FIELDS))
    settle = functools.partial(
        export.export_audit, request, via="web", chosen=[j.pk for j in jobs], filters={}
    )
    pieces = export.csv_lines(rows, job_url=("/jobs/", "/"), bom=False, begin=settle)
    next(pieces)
    assert AuditEntry.objects.get(action="export").outcome == "requested"  # under way
    pieces.close()
    entry = AuditEntry.objects.get(action="export")
    assert entry.outcome == "failed"
    assert entry.summary == (
        "CSV export of 5 selected jobs stopped after 5 rows: the download broke off"
    )


# --- the API: the same selection by code --------------------------------------------------


def post_api(token: str | None, body) -> object:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    payload = body if isinstance(body, str) else json.dumps(body)
    return Client().post(API, payload, content_type="application/json", **headers)


def test_the_api_exports_the_given_codes(viewer, jobs):
    token = api_token_create(user=viewer, name="export script")[1]
    rows = rows_of(post_api(token, {"jobs": [str(jobs[4].code), str(jobs[2].code)]}))
    assert [row["external_id"] for row in rows] == ["ci-2", "ci-4"]
    entry = AuditEntry.objects.get(action="export")
    assert (entry.via, entry.outcome, entry.job_count) == ("api", "done", 2)


@pytest.mark.parametrize(
    "body, says",
    [
        ({"jobs": []}, "jobs"),
        ({"jobs": ["00000000-0000-0000-0000-000000000000"]}, "jobs: None of the selected"),
        ({"jobs": ["x"]}, "jobs"),
        ({"filter": {"state": "failed"}}, "filter"),
        ("{not json", ""),
    ],
)
def test_the_api_refuses_a_bad_selection_with_a_json_400(viewer, jobs, body, says):
    token = api_token_create(user=viewer, name="t")[1]
    response = post_api(token, body)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid" and says in error["message"]
    assert not AuditEntry.objects.filter(action="export").exists()


def test_the_api_export_needs_a_token_that_may_view(outsider, jobs):
    body = {"jobs": [str(jobs[0].code)]}
    assert post_api(None, body).status_code == 401
    assert post_api(api_token_create(user=outsider, name="t")[1], body).status_code == 403


def test_the_document_lists_the_selected_export():
    document = Client().get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/jobs.csv"]["post"]
    assert operation["operationId"] == "exportSelectedJobs"
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert document["paths"]["/api/v1/jobs.csv"]["get"]["operationId"] == "exportJobs"
