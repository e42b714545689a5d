"""The job list's exclusions (state_not, provider_not) with their tab counts, its created
time presets (window=) and hours of the day (hour_from, hour_to), and saved views that
keep a sort and an exclusion."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from jobs.models import Job, SavedView
from jobs.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
CSRF = "Csrf0Secret1For2Tests3Only4abcde"


def rows(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [row.job.external_id for row in response.context["rows"]]


def tabs(response) -> dict[str, object]:
    return {tab["label"]: tab["count"] for tab in response.context["tabs"]}


@pytest.fixture
def mixed(accounts) -> None:
    vod, ci, ice = accounts["tencent_vod"], accounts["tencent_ci"], accounts["aliyun_ice"]
    for n, (account, state) in enumerate(
        [
            (vod, "succeeded"),
            (vod, "succeeded"),
            (vod, "failed"),
            (ci, "running"),
            (ci, "succeeded"),
            (ice, "failed"),
            (ice, "queued"),
        ]
    ):
        Job.objects.create(account=account, external_id=f"x{n}-{state}", state=state, name="x")


@pytest.mark.parametrize("search", [{}, {"q": "x"}])  # counters, then counted matches
def test_state_not_lists_and_counts_none_of_that_state(viewer_client, mixed, search):
    response = viewer_client.get(reverse("job-list"), {"state_not": "succeeded", **search})
    assert rows(response) == ["x6-queued", "x5-failed", "x3-running", "x2-failed"]
    counts = tabs(response)
    assert counts["Succeeded"] == 0 and counts["Failed"] == 2 and counts["All"] == 4
    assert counts["All"] == sum(v for k, v in counts.items() if k != "All")
    # A tab keeps the exclusion; the excluded state's own tab lists what it counts: none.
    failed = viewer_client.get(reverse("job-list"), {"state_not": "succeeded", "state": "failed"})
    assert rows(failed) == ["x5-failed", "x2-failed"]
    none = viewer_client.get(reverse("job-list"), {"state_not": "failed", "state": "failed"})
    assert rows(none) == [] and tabs(none)["Failed"] == 0


@pytest.mark.parametrize("search", [{}, {"q": "x"}])
def test_provider_not_lists_and_counts_the_other_providers(viewer_client, mixed, search):
    response = viewer_client.get(reverse("job-list"), {"provider_not": "tencent_vod", **search})
    assert rows(response) == ["x6-queued", "x5-failed", "x4-succeeded", "x3-running"]
    counts = tabs(response)
    assert counts["All"] == 4 and counts["Succeeded"] == 1 and counts["Failed"] == 1
    both = viewer_client.get(
        reverse("job-list"), {"provider_not": "tencent_vod", "state_not": "failed", **search}
    )
    assert rows(both) == ["x6-queued", "x4-succeeded", "x3-running"]
    assert tabs(both)["All"] == 3


def test_the_forms_is_not_select_becomes_the_exclusion_in_the_url(viewer_client, mixed):
    response = viewer_client.get(
        reverse("job-list"),
        {"q": "", "provider": "tencent_vod", "provider_op": "not", "state": "", "state_op": ""},
    )
    assert response.status_code == 302
    assert dict(parse_qsl(response.url.partition("?")[2])) == {"provider_not": "tencent_vod"}
    html = viewer_client.get(response.url).content.decode()
    provider = re.search(r'<select name="provider_op".*?</select>', html, re.S).group(0)
    assert '<option value="not" selected>is not</option>' in provider
    assert re.search(r'<option value="tencent_vod" selected>', html)
    assert 'aria-label="Provider: is or is not"' in html
    # "is" sends the filter itself, as before.
    kept = viewer_client.get(reverse("job-list"), {"state": "failed", "state_op": ""})
    assert kept.status_code == 302 and kept.url.endswith("?state=failed")


@time_machine.travel(NOW, tick=False)
def test_window_presets_count_from_now(viewer_client, accounts):
    account = accounts["tencent_ivh"]
    ages = {"m30": timedelta(minutes=30), "h2": timedelta(hours=2), "d3": timedelta(days=3)}
    ages |= {"d8": timedelta(days=8), "h1": timedelta(hours=1, seconds=1)}
    for name, age in ages.items():
        Job.objects.create(account=account, external_id=name, created_at=NOW - age)
    # No provider time: when Clapboard first saw it.
    Job.objects.create(account=account, external_id="seen", tracked_at=NOW - timedelta(minutes=5))
    expect = {"1h": {"m30", "seen"}, "24h": {"m30", "seen", "h1", "h2"}}
    expect["7d"] = expect["24h"] | {"d3"}
    for window, names in expect.items():
        response = viewer_client.get(reverse("job-list"), {"window": window})
        assert set(rows(response)) == names
        assert tabs(response)["All"] == len(names)
    html = response.content.decode()
    assert '<option value="7d" selected>Last 7 days</option>' in html


@pytest.mark.parametrize(
    "hours, expected",
    [
        ((22, 1), {"22:10", "23:59", "00:00", "01:59", "sh-00:30"}),  # wraps midnight
        ((2, 12), {"02:00", "12:00"}),
        ((0, None), {"21:30", "22:10", "23:59", "00:00", "01:59", "02:00", "12:00", "sh-00:30"}),
        ((None, 0), {"00:00", "sh-00:30"}),
        ((23, 23), {"23:59"}),
    ],
)
def test_hours_of_the_day_are_utc_and_may_wrap_midnight(viewer_client, accounts, hours, expected):
    account = accounts["tencent_ivh"]
    day = datetime(2026, 6, 9, tzinfo=UTC)
    for label in ("21:30", "22:10", "23:59", "00:00", "01:59", "02:00", "12:00"):
        hour, minute = map(int, label.split(":"))
        created = day + timedelta(hours=hour, minutes=minute)
        Job.objects.create(account=account, external_id=label, created_at=created)
    # 08:30 in Shanghai is 00:30 UTC: the hour is the UTC one whatever the zone sent.
    shanghai = datetime(2026, 6, 9, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    Job.objects.create(account=account, external_id="sh-00:30", created_at=shanghai)
    params = {
        name: str(v)
        for name, v in zip(("hour_from", "hour_to"), hours, strict=True)
        if v is not None
    }
    response = viewer_client.get(reverse("job-list"), params)
    assert set(rows(response)) == expected
    assert tabs(response)["All"] == len(expected)
    assert "Hours (UTC)" in response.content.decode()


def test_the_api_and_csv_take_the_same_exclusions_and_times(viewer, mixed, accounts):
    cache.clear()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=viewer, name='x')[1]}"}
    Job.objects.filter(external_id="x3-running").update(
        created_at=datetime(2026, 1, 1, 23, 5, tzinfo=UTC)
    )
    params = {"state_not": "succeeded", "provider_not": "aliyun_ice"}
    listed = Client().get("/api/v1/jobs", params, **auth).json()["jobs"]
    assert [job["external_id"] for job in listed] == ["x3-running", "x2-failed"]
    late = {**params, "hour_from": "23", "hour_to": "0"}
    listed = Client().get("/api/v1/jobs", late, **auth).json()["jobs"]
    assert [job["external_id"] for job in listed] == ["x3-running"]
    text = b"".join(Client().get("/api/v1/jobs.csv", late, **auth).streaming_content).decode()
    assert "x3-running" in text and "x2-failed" not in text
    recent = Client().get("/api/v1/jobs", {"window": "1h", "state_not": "failed"}, **auth)
    assert {job["external_id"] for job in recent.json()["jobs"]} == {
        "x0-succeeded",
        "x1-succeeded",
        "x4-succeeded",
        "x6-queued",
    }


def test_a_saved_view_keeps_a_sort_and_an_exclusion(viewer_client, viewer, mixed):
    query = "sort=-created&state_not=succeeded&provider_not=aliyun_ice&per_page=100"
    viewer_client.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    saved = viewer_client.post(
        reverse("saved-view-save"), {"query": query, "name": "open work"}, HTTP_X_CSRFTOKEN=CSRF
    )
    view = SavedView.objects.get(owner=viewer)
    assert view.query == "per_page=100&provider_not=aliyun_ice&sort=-created&state_not=succeeded"
    assert saved.status_code == 302 and saved.url.endswith("?" + view.query)
    response = viewer_client.get(saved.url)
    assert rows(response) == ["x3-running", "x2-failed"]
    link = next(link for link in response.context["saved_views"] if link["view"] == view)
    assert link["current"]  # the list under the view's query knows it is that view
    # The page's save form carries the same query back.
    carried = re.search(r'name="query" value="([^"]*)"', response.content.decode()).group(1)
    assert dict(parse_qsl(carried.replace("&amp;", "&"))) == dict(parse_qsl(view.query))
