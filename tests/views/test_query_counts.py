"""Page cost does not grow with the data: the same number of queries for 10 jobs or 300,
for a job with 5 events or 500."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jobs.models import Job, JobEvent

pytestmark = pytest.mark.django_db

STATES = ["queued", "running", "succeeded", "failed", "canceled"]


def grow(accounts, start: int, count: int) -> None:
    codes = list(accounts)
    Job.objects.bulk_create(
        Job(
            account=accounts[codes[n % len(codes)]],
            external_id=f"job-{n}",
            name=f"news {n}",
            state=STATES[n % len(STATES)],
            failure_code="70000" if STATES[n % len(STATES)] == "failed" else "",
        )
        for n in range(start, start + count)
    )


def busy_job(accounts, events: int, words: int) -> Job:
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id=f"busy-{events}",
        state="running",
        words=[{"text": "s", "words": [[f"w{n}", n * 100, n * 100 + 80] for n in range(words)]}],
        subtitles="1\n00:00:00,000 --> 00:00:01,000\nhello\n",
    )
    JobEvent.objects.bulk_create(
        JobEvent(job=job, state="running", progress=n % 100, queue_position=None)
        for n in range(events)
    )
    return job


def queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code in (200, 204)
    return len(captured)


def page_costs(client) -> dict[str, int]:
    list_url = reverse("job-list")
    live = client.get(list_url, HTTP_HX_REQUEST="true").context["live_url"]
    return {
        "list": queries(client, list_url),
        "filtered": queries(client, list_url + "?state=failed&q=news"),
        "poll": queries(client, list_url + live, HTTP_HX_REQUEST="true"),
    }


def test_query_counts_do_not_grow_with_data(viewer_client, accounts, django_assert_max_num_queries):
    grow(accounts, 0, 10)
    small = page_costs(viewer_client)
    grow(accounts, 10, 300)
    large = page_costs(viewer_client)
    assert small == large
    # session, user, two permission lookups, the change token, the kinds, counts, page,
    # accounts, failing accounts, saved views
    with django_assert_max_num_queries(11):
        viewer_client.get(reverse("job-list"))
    live = viewer_client.get(reverse("job-list"), HTTP_HX_REQUEST="true").context["live_url"]
    with django_assert_max_num_queries(6):  # an unchanged poll: access, then the token only
        viewer_client.get(reverse("job-list") + live, HTTP_HX_REQUEST="true")


def test_detail_query_count_does_not_grow_with_events_or_words(
    viewer_client, accounts, django_assert_max_num_queries
):
    small = busy_job(accounts, events=5, words=10)
    large = busy_job(accounts, events=500, words=2000)
    costs = [queries(viewer_client, reverse("job-detail", args=[j.code])) for j in (small, large)]
    assert costs[0] == costs[1]
    # Session, user, two permission lookups, the job, one aggregate over its events (their
    # count, first running/finished times, queue positions), the newest page of events
    # (LIMIT), the last "Refresh now"; a running job without progress also reads its
    # typical run time (one indexed, bounded query of at most 20 rows).
    with django_assert_max_num_queries(9):
        viewer_client.get(reverse("job-detail", args=[large.code]))


def test_the_list_never_reads_account_credentials(viewer_client, accounts):
    # Each row shows its account's name and health, never its secrets: reading the
    # encrypted column would decrypt one blob per row for nothing.
    grow(accounts, 0, 20)
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(reverse("job-list"))
    assert response.status_code == 200 and response.content.count(b'<tr id="job-') == 20
    selects = [q["sql"] for q in queries.captured_queries if "jobs_account" in q["sql"]]
    assert selects  # the rows do load their accounts
    assert not [sql for sql in selects if '"jobs_account"."credentials"' in sql]


def test_the_list_does_not_load_the_columns_a_row_never_shows(viewer_client, accounts):
    # Word timings, the raw payload and subtitles are JSON or long text decoded per row.
    grow(accounts, 0, 20)
    Job.objects.update(words=[{"text": "s", "words": [["w", 0, 80]]}], raw={"a": 1})
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(reverse("job-list"))
    assert response.status_code == 200 and response.content.count(b'<tr id="job-') == 20
    rows = [q["sql"] for q in queries.captured_queries if '"jobs_job"."external_id"' in q["sql"]]
    assert rows
    for column in ("words", "raw", "subtitles"):
        assert not [sql for sql in rows if f'"jobs_job"."{column}"' in sql], column
