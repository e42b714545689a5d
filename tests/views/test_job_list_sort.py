"""The job list's orders (sort=), their keyset pages and page sizes: on the page, in the
API and in the CSV export, with ties and missing values in the data."""

from __future__ import annotations

import csv
import importlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from jobs import selectors
from jobs.listing import SORT_CHOICES
from jobs.models import Job, JobEvent
from jobs.providers.base import JobStatus, State
from jobs.services import jobs_apply_statuses
from jobs.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SORTS = [value for value, _ in SORT_CHOICES]


def _at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


@pytest.fixture
def world(accounts) -> list[Job]:
    """Fourteen jobs whose every key has ties, and missing values where a key can miss:
    no provider creation time (then the tracking time), no event (then the tracking time
    too), no media length, no progress."""
    vod, ci = accounts["tencent_vod"], accounts["tencent_ci"]
    specs = [
        # tracked, created, changed, duration, progress
        (0, None, None, None, None),
        (0, -30, 5, 1000, 50),
        (0, -30, 5, 1000, 50),
        (1, None, 2, None, 100),
        (1, -30, None, 500, 100),
        (2, 2, 2, 500, None),
        (2, -60, 9, 0, 0),
        (3, None, None, 7000, 0),
        (3, -60, 9, 7000, 50),
        (3, 3, 3, None, None),
        (4, -1, 4, 1000, 100),
        (4, None, 1, 250, 25),
        (5, -30, 5, 1000, 50),
        (5, 5, None, None, 25),
    ]
    jobs = []
    for n, (tracked, created, changed, duration, progress) in enumerate(specs):
        job = Job.objects.create(
            account=vod if n % 2 else ci,
            external_id=f"j{n:02}",
            state="running",
            tracked_at=_at(tracked),
            created_at=None if created is None else _at(created),
            duration_ms=duration,
            progress=progress,
        )
        if changed is not None:
            JobEvent.objects.create(job=job, state="running", at=_at(changed))
            JobEvent.objects.create(job=job, state="running", at=_at(changed - 1))  # older
        jobs.append(job)
    return jobs


def expected(jobs: list[Job], sort: str) -> list[str]:
    """The order `sort` promises, computed here from the rows' own values."""
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    fresh = {job.pk: job for job in Job.objects.all()}

    def key(job: Job) -> tuple:
        job = fresh[job.pk]
        value = {
            "tracked": job.tracked_at,
            "created": job.created_at or job.tracked_at,
            "changed": job.changed_at or job.tracked_at,
            "duration": -1 if job.duration_ms is None else job.duration_ms,
            "progress": -1 if job.progress is None else job.progress,
        }[column]
        return (value, job.pk)

    return [job.external_id for job in sorted(jobs, key=key, reverse=descending)]


def walk_page(client: Client, params: dict[str, str]) -> list[str]:
    seen: list[str] = []
    response = client.get(reverse("job-list"), params)
    while True:
        assert response.status_code == 200
        seen += [row.job.external_id for row in response.context["rows"]]
        if not response.context["next_url"]:
            return seen
        response = client.get(reverse("job-list") + response.context["next_url"])


def test_changed_at_is_the_newest_events_time_whatever_writes_it(world):
    by_id = {job.external_id: job for job in Job.objects.all()}
    assert by_id["j01"].changed_at == _at(5)  # the older event inserted after it did not win
    assert by_id["j00"].changed_at is None
    JobEvent.objects.bulk_create([JobEvent(job=by_id["j00"], state="running", at=_at(30))])
    JobEvent.objects.filter(job=by_id["j01"]).update(at=_at(-5))  # an edited time recomputes
    assert Job.objects.get(external_id="j00").changed_at == _at(30)
    assert Job.objects.get(external_id="j01").changed_at == _at(-5)


def test_the_status_writer_and_the_migrations_backfill_agree_with_the_events(world):
    job = Job.objects.get(external_id="j03")
    now = _at(60)
    status = JobStatus(
        external_id=job.external_id, state=State.SUCCEEDED, provider_state="DONE", progress=100
    )
    jobs_apply_statuses(statuses={job.pk: status}, asked_at=now, now=now)
    newest = JobEvent.objects.filter(job=job).latest("at", "id")
    assert newest.at == now and Job.objects.get(pk=job.pk).changed_at == now
    Job.objects.update(changed_at=None)
    migration = importlib.import_module("jobs.migrations.0020_list_sorting")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    for job in Job.objects.all():
        times = list(JobEvent.objects.filter(job=job).values_list("at", flat=True))
        assert job.changed_at == (max(times) if times else None)


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_walks_every_job_once_in_its_order(viewer_client, world, monkeypatch, sort):
    monkeypatch.setattr("dashboard.jobs.views.PAGE_SIZE", 3)
    assert walk_page(viewer_client, {"sort": sort}) == expected(world, sort)


@pytest.mark.parametrize("sort", SORTS)
def test_the_api_pages_and_the_csv_keep_every_sorts_order(viewer, world, monkeypatch, sort):
    cache.clear()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=viewer, name='s')[1]}"}
    seen, params = [], {"sort": sort, "limit": "4"}
    while True:
        response = Client().get("/api/v1/jobs", params, **auth)
        assert response.status_code == 200, response.content
        seen += [job["external_id"] for job in response.json()["jobs"]]
        if not (cursor := response.json()["next_cursor"]):
            break
        params["cursor"] = cursor
    assert seen == expected(world, sort)
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 4)
    response = Client().get("/api/v1/jobs.csv", {"sort": sort}, **auth)
    text = b"".join(response.streaming_content).decode()
    assert [row["external_id"] for row in csv.DictReader(io.StringIO(text))] == seen


def test_the_pages_csv_follows_the_sort(viewer_client, world, monkeypatch):
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 2)
    response = viewer_client.get(reverse("job-list-csv"), {"sort": "-progress"})
    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["external_id"] for row in rows] == expected(world, "-progress")
    by_id = {row["external_id"]: row for row in rows}
    assert by_id["j01"]["last_change_at"] == "2026-06-01T12:05:00Z"


def test_headers_link_to_their_order_and_say_which_is_sorted(viewer_client, world):
    html = viewer_client.get(reverse("job-list"), {"sort": "-progress", "q": "j"}).content.decode()
    assert (
        '<th scope="col" aria-sort="descending"><a class="sort" href="?sort=progress&amp;q=j"'
        in html
    )
    assert '<th scope="col"><a class="sort" href="?sort=-created&amp;q=j"' in html
    html = viewer_client.get(reverse("job-list"), {"sort": "created"}).content.decode()
    assert 'aria-sort="ascending"><a class="sort" href="?sort=-created"' in html
    assert 'href=".">Newest tracked first</a>' in html  # back to the default order
    plain = viewer_client.get(reverse("job-list")).content.decode()
    assert "aria-sort" not in plain and "Save this view" not in plain
    assert "Save this view" in html  # an order alone is worth saving


def test_an_old_after_link_still_continues_the_default_order(viewer_client, world, monkeypatch):
    monkeypatch.setattr("dashboard.jobs.views.PAGE_SIZE", 3)
    order = expected(world, "-tracked")
    last = Job.objects.get(external_id=order[2])
    old = f"{last.tracked_at.timestamp():.6f}_{last.pk}"  # what links said before sorting
    response = viewer_client.get(reverse("job-list"), {"after": old})
    assert [row.job.external_id for row in response.context["rows"]] == order[3:6]


@pytest.mark.parametrize("after", ["garbage", "1_2_3", "9" * 40 + "_1", "-5_x", "1.5_2"])
def test_a_bad_after_shows_the_first_page(viewer_client, world, after):
    response = viewer_client.get(reverse("job-list"), {"after": after, "sort": "progress"})
    assert response.status_code == 200
    rows = [row.job.external_id for row in response.context["rows"]]
    assert rows == expected(world, "progress")


def test_page_sizes_offered_and_anything_else_is_the_default(viewer_client, accounts):
    account = accounts["tencent_ivh"]
    Job.objects.bulk_create(
        Job(account=account, external_id=f"p{n:03}", tracked_at=_at(n)) for n in range(230)
    )
    for asked, shown in [("100", 100), ("200", 200), ("50", 50), ("7", 50), ("abc", 50), ("", 50)]:
        response = viewer_client.get(reverse("job-list"), {"per_page": asked})
        assert response.status_code == 200 and len(response.context["rows"]) == shown
    response = viewer_client.get(reverse("job-list"), {"per_page": "200"})
    assert "per_page=200" in response.context["next_url"]
    second = viewer_client.get(reverse("job-list") + response.context["next_url"])
    assert len(second.context["rows"]) == 30
    assert '<strong aria-current="true">200</strong>' in response.content.decode()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"sort": "foo"}, "sort"),
        ({"sort": "--created"}, "sort"),
        ({"hour_from": "99"}, "hour_from"),
        ({"hour_to": "-1"}, "hour_to"),
        ({"window": "3y"}, "window"),
        ({"state_not": "bogus"}, "state_not"),
        ({"provider_not": "aws"}, "provider_not"),
        ({"provider": "tencent_vod", "provider_not": "tencent_vod"}, "provider_not"),
    ],
)
def test_bad_values_get_the_invalid_filters_page(viewer_client, world, params, field):
    for url in (reverse("job-list"), reverse("job-list-csv")):
        response = viewer_client.get(url, params)
        assert response.status_code == 400 and not response.streaming
        assert field in response.context["form"].errors
        assert "these filters cannot be applied" in response.content.decode()


@pytest.mark.parametrize(
    "params, words",
    [
        ({"sort": "foo"}, "sort"),
        ({"hour_from": "24"}, "hour_from"),
        ({"hour_to": "1.5"}, "hour_to"),
        ({"window": "3y"}, "window"),
        ({"state_not": "bogus"}, "state_not"),
        ({"provider": "tencent_ci", "provider_not": "tencent_ci"}, "provider_not"),
        ({"sort": "progress", "cursor": "MTc0ODc3OTIwMDAwMDAwMDox"}, "cursor"),  # a -tracked one
    ],
)
def test_the_api_answers_bad_values_with_400(viewer, world, params, words):
    cache.clear()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=viewer, name='s')[1]}"}
    for path in ("/api/v1/jobs", "/api/v1/jobs.csv"):
        if path.endswith(".csv") and "cursor" in params:
            continue
        response = Client().get(path, params, **auth)
        assert response.status_code == 400, (path, response.content)
        assert words in response.json()["error"]["message"]
