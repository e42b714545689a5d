"""The job list as a CSV download (/jobs.csv): the rows the list shows for the same query
string, in its order, streamed in keyset chunks, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.jobs import export
from jobs import selectors
from jobs.models import Account, Job, JobEvent

pytestmark = pytest.mark.django_db

EXPORT = reverse("job-list-csv")


def make(account, external_id, state="running", **fields) -> Job:
    job = Job.objects.create(account=account, external_id=external_id, state=state, **fields)
    JobEvent.objects.create(job=job, state=state)
    return job


def body_of(response) -> str:
    assert response.status_code == 200, response.content[:500]
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def rows_of(response) -> list[dict[str, str]]:
    text = body_of(response)
    assert text.startswith("\ufeff")  # for Excel, which reads UTF-8 only with it
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_the_export_has_the_lists_jobs_in_its_order_for_a_filter(viewer_client, accounts):
    vod, ci = accounts["tencent_vod"], accounts["tencent_ci"]
    base = timezone.now()
    for n in range(12):  # pairs share a tracked_at: the id breaks the tie, as in the list
        account = vod if n % 3 else ci
        state = "failed" if n % 2 else "running"
        at = base - timedelta(seconds=n // 2)
        make(account, f"news-{n:02}", state, name=f"Evening news {n}", tracked_at=at)
    make(vod, "other-1", "failed", name="Weather")
    for params in ({"state": "failed", "q": "news"}, {"provider": "tencent_vod"}, {}):
        listed = viewer_client.get(reverse("job-list"), params).context["rows"]
        exported = rows_of(viewer_client.get(EXPORT, params))
        assert [row["external_id"] for row in exported] == [r.job.external_id for r in listed]
    assert len(listed) == 13  # the unfiltered case really listed every job


def test_the_list_links_its_export_with_the_filters_and_tab(viewer_client, accounts):
    make(accounts["tencent_vod"], "vod-1", "failed", name="promo")
    params = {"state": "failed", "q": "promo", "after": "1_1"}
    html = viewer_client.get(reverse("job-list"), params).content.decode()
    link = re.search(r'<a class="button quiet" href="([^"]*)" download>Export CSV</a>', html)
    assert link and link.group(1) == f"{EXPORT}?state=failed&amp;q=promo"  # not the page
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert f'href="{EXPORT}" download>Export CSV' in html
    invalid = viewer_client.get(reverse("job-list"), {"state": "bogus"}).content.decode()
    assert "Export CSV" not in invalid  # no download under filters that do not apply


def test_every_chunk_of_the_keyset_walk_reads_each_job_once(viewer_client, accounts):
    base = timezone.now()
    for n in range(20):  # groups of three share a tracked_at, across chunk boundaries
        make(accounts["tencent_ivh"], f"p{n:02}", tracked_at=base - timedelta(seconds=n // 3))
    jobs = Job.objects.all()
    with CaptureQueriesContext(connection) as queries:
        walked = [row[0] for row in selectors.job_export_rows(jobs, ["external_id"], chunk_size=3)]
    expected = list(jobs.order_by("-tracked_at", "-id").values_list("external_id", flat=True))
    assert walked == expected and len(set(walked)) == 20
    assert len(queries.captured_queries) == 7  # ceil(20 / 3): one short query per chunk


def test_columns_ids_and_utc_times(viewer_client, accounts):
    account = accounts["aliyun_ice"]
    shanghai = ZoneInfo("Asia/Shanghai")
    job = make(
        account,
        "ice-1",
        "failed",
        name="promo",
        kind="IProduction",
        provider_state="Fail",
        failure_code="InvalidInput",
        failure_message="input file missing",
        duration_ms=1234,
        created_at=datetime(2026, 3, 1, 8, 30, 15, 999_999, tzinfo=shanghai),
        started_at=datetime(2026, 3, 1, 0, 31, tzinfo=UTC),
        finished_at=datetime(2026, 3, 1, 0, 32, tzinfo=UTC),
        last_polled_at=datetime(2026, 3, 1, 0, 33, tzinfo=UTC),
    )
    JobEvent.objects.filter(job=job).update(at=datetime(2026, 3, 1, 9, 0, tzinfo=shanghai))
    queued = make(accounts["tencent_ivh"], "ivh-q", "queued", queue_position=7, progress=None)
    response = viewer_client.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="clapboard-jobs-\d{8}T\d{6}Z\.csv"', response["Content-Disposition"]
    )
    assert "no-store" in response["Cache-Control"]
    rows = rows_of(response)
    assert list(rows[0]) == list(export.HEADER)
    by_id = {row["external_id"]: row for row in rows}
    job.refresh_from_db()
    assert by_id["ice-1"] == {
        "code": str(job.code),
        "provider": "aliyun_ice",
        "account": account.name,
        "account_code": str(account.code),
        "external_id": "ice-1",
        "kind": "IProduction",
        "name": "promo",
        "state": "failed",
        "provider_state": "Fail",
        "progress": "",
        "queue_position": "",
        "failure_code": "InvalidInput",
        "failure_message": "input file missing",
        "created_at": "2026-03-01T00:30:15Z",  # UTC, to the second
        "started_at": "2026-03-01T00:31:00Z",
        "finished_at": "2026-03-01T00:32:00Z",
        "tracked_at": job.tracked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "last_polled_at": "2026-03-01T00:33:00Z",
        "last_change_at": "2026-03-01T01:00:00Z",
        "duration_ms": "1234",
        "stale_reason": "",  # finished: its data is final
        "url": f"http://testserver/jobs/{job.code}/",
    }
    assert by_id["ivh-q"]["queue_position"] == "7" and by_id["ivh-q"]["state"] == "queued"
    assert by_id["ivh-q"]["url"].endswith(f"/jobs/{queued.code}/")


def test_stale_rows_say_why_as_the_list_does(viewer_client, accounts):
    now = timezone.now()
    make(accounts["tencent_vod"], "fresh", "running", progress=40, last_polled_at=now)
    make(accounts["tencent_vod"], "failing", "running", poll_errors=3, last_polled_at=now)
    make(accounts["tencent_vod"], "stopped", "running", next_poll_at=None)
    make(accounts["tencent_ci"], "disabled", "queued")
    make(accounts["tencent_ci"], "done", "succeeded", next_poll_at=None)
    Account.objects.filter(pk=accounts["tencent_ci"].pk).update(enabled=False)
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert "checks failing ×3" in html and "account disabled" in html  # the list's words
    stale = {row["external_id"]: row["stale_reason"] for row in rows_of(viewer_client.get(EXPORT))}
    assert stale == {
        "fresh": "",
        "failing": "checks failing ×3",
        "stopped": "not watched",
        "disabled": "account disabled",
        "done": "",
    }


def test_formula_cells_are_escaped_and_commas_quotes_newlines_survive(viewer_client, accounts):
    hostile = {
        "f-eq": '=HYPERLINK("http://evil.example","click")',
        "f-plus": "+1+cmd|' /C calc'!A0",
        "f-minus": "-2+3",
        "f-at": "@SUM(1,1)",
        "f-tab": "\t=1+1",
        "f-cr": "\r=1+1",
    }
    for external_id, name in hostile.items():
        make(accounts["tencent_ivh"], external_id, "failed", name=name, failure_message=name)
    make(accounts["tencent_ivh"], "=1+1", "failed", failure_code="@x", provider_state="-1")
    message = 'line one, with a comma\nline "two"\r\nend'
    make(accounts["tencent_ivh"], "plain", "failed", name="a - b = c", failure_message=message)
    response = viewer_client.get(EXPORT)
    raw = body_of(response)
    rows = {row["external_id"]: row for row in rows_of(viewer_client.get(EXPORT))}
    for external_id, name in hostile.items():
        assert rows[external_id]["name"] == "'" + name
        assert rows[external_id]["failure_message"] == "'" + name
    formula_id = rows["'=1+1"]
    assert formula_id["failure_code"] == "'@x" and formula_id["provider_state"] == "'-1"
    assert rows["plain"]["name"] == "a - b = c"  # only a leading character counts
    assert rows["plain"]["failure_message"] == message  # quoted, and read back whole
    assert '"line one, with a comma\nline ""two""\r\nend"' in raw
    assert "\n=" not in raw and ",=" not in raw and ",+" not in raw and ",@" not in raw


def test_no_secret_payload_or_media_url_is_exported(viewer_client, accounts):
    account = accounts["tencent_vod"]
    make(
        account,
        "vod-1",
        "succeeded",
        raw={"Note": "raw-payload-marker"},
        words=[{"text": "word-timing-marker", "words": [["w", 0, 1]]}],
        subtitles="1\n00:00:00,000 --> 00:00:01,000\nsubtitle-marker\n",
        media_url="https://media.example/v.mp4?sign=presigned-marker",
    )
    text = body_of(viewer_client.get(EXPORT))
    for marker in ("raw-payload-marker", "word-timing-marker", "subtitle-marker", "presigned"):
        assert marker not in text
    for secret in account.credentials.values():
        assert str(secret) not in text


def test_the_export_streams_and_never_selects_the_heavy_columns(
    viewer_client, accounts, monkeypatch
):
    monkeypatch.setattr(export, "ROWS_PER_WRITE", 2)
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 2)
    for n in range(5):
        make(accounts["tencent_ivh"], f"ivh-{n}", "succeeded", raw={"big": "x" * 1000})

    def job_reads() -> list[str]:
        return [q["sql"] for q in queries.captured_queries if 'FROM "jobs_job"' in q["sql"]]

    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(EXPORT)
        assert response.streaming and job_reads() == []  # nothing read before it is sent
        stream = iter(response.streaming_content)
        pieces = [next(stream)]
        assert len(job_reads()) == 1  # the first piece went out after the first chunk
        pieces += stream
    assert len(pieces) == 3  # header and rows 1-2, rows 3-4, row 5
    reads = job_reads()
    assert len(reads) == 3  # keyset chunks of 2, 2 and 1
    for sql in reads:
        for column in ("words", "raw", "subtitles", "media_url", "credentials"):
            assert f'."{column}"' not in sql, column
    assert any(f'."{column}"' in sql for sql in reads for column in ("name", "failure_message"))


def test_head_reads_no_job(viewer_client, accounts):
    make(accounts["tencent_ivh"], "ivh-1")
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.head(EXPORT)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert not [q for q in queries.captured_queries if 'FROM "jobs_job"' in q["sql"]]


def test_who_may_export(accounts, viewer_client, operator_client, outsider_client):
    make(accounts["tencent_ivh"], "ivh-1", name="Evening news")
    url = f"{EXPORT}?state=running"
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('login')}?next={quote(url, safe='/')}"
    assert outsider_client.get(url).status_code == 403
    for client in (viewer_client, operator_client):
        assert [row["external_id"] for row in rows_of(client.get(url))] == ["ivh-1"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"state": "bogus"}, "state", "is not a state"),
        ({"created_from": "notadate"}, "created_from", "Enter a valid date"),
        ({"account": "not-an-account"}, "account", "is not a valid UUID"),
        ({"created_to": "9999-12-31"}, "created_to", "Enter a date from 1970-01-01"),
        ({"kind": "procedure"}, "kind", "No job has this kind"),
    ],
)
def test_bad_filters_answer_the_lists_errors_not_a_file(
    viewer_client, accounts, params, field, message
):
    make(accounts["tencent_vod"], "vod-visible", "failed", name="Should not be listed")
    response = viewer_client.get(EXPORT, params)
    assert response.status_code == 400 and not response.streaming
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    error = re.search(rf'<p class="field-error[^"]*" id="id_{field}_error">([^<]*)</p>', html)
    assert error and message in error.group(1).replace("&#x27;", "'")
    assert "Should not be listed" not in html and "No jobs are listed" in html


def test_a_row_whose_account_was_deleted_meanwhile_is_left_out(accounts):
    make(accounts["tencent_ci"], "ci-1")
    (row,) = selectors.job_export_rows(Job.objects.all(), export.FIELDS)
    gone = (row[0], max(a.pk for a in accounts.values()) + 1, *row[2:])  # read, then deleted
    pieces = export.csv_lines([gone, row], job_url=("http://x/jobs/", "/"), bom=False)
    lines = b"".join(pieces).decode().splitlines()
    assert len(lines) == 2 and ",ci-1," in lines[1]
