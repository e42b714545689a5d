"""The Failures page: failed jobs grouped by provider and failure code in a window, each
group explained and linked to the job list showing exactly the jobs it counts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from jobs.models import Account, Job
from jobs.providers.base import UNKNOWN_FAILURE

pytestmark = pytest.mark.django_db

URL = "/failures/"


def job(account, external_id, code="", *, state="failed", finished=None, tracked=None, message=""):
    """A job as the refresh engine leaves it; `tracked` defaults to `finished`, or now."""
    return Job.objects.create(
        account=account,
        external_id=external_id,
        state=state,
        failure_code=code,
        failure_message=message,
        finished_at=finished,
        tracked_at=tracked or finished or timezone.now(),
        next_poll_at=None,
    )


@pytest.fixture
def world(accounts) -> dict[str, Account]:
    """Failures of three providers at every distance from now, a finish time missing
    here and there, and jobs that must not count (other states, the same codes)."""
    now = timezone.now()
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731 - a table reads better
    vod, ivh, ice = accounts["tencent_vod"], accounts["tencent_ivh"], accounts["aliyun_ice"]
    job(vod, "vod-1", "InvalidInput", finished=ago(minutes=5), message="Definition 10 missing")
    job(vod, "vod-2", "InvalidInput", finished=ago(minutes=50))
    job(vod, "vod-3", "InvalidInput", finished=ago(hours=3))
    job(vod, "vod-4", "InvalidInput", finished=ago(days=3))
    job(vod, "vod-5", "InvalidInput", finished=ago(days=8))
    job(vod, "vod-6", "SourceFileError", finished=ago(hours=20))
    # No finish time from the provider: when Clapboard first saw it counts.
    job(vod, "vod-7", "SourceFileError", tracked=ago(minutes=20))
    job(vod, "vod-8", "SourceFileError", tracked=ago(days=2))
    # The finish time wins over an old tracking time, and a recent tracking time does not
    # bring an old failure into the window.
    job(vod, "vod-9", "SourceFileError", finished=ago(minutes=30), tracked=ago(days=9))
    job(vod, "vod-10", "SourceFileError", finished=ago(days=9), tracked=ago(minutes=1))
    job(ivh, "ivh-1", "801005", finished=ago(minutes=10), message="text failed review")
    job(ivh, "ivh-2", "801005", finished=ago(hours=6))
    job(ivh, "ivh-3", "", finished=ago(minutes=15), message="no code given")
    job(ivh, "ivh-4", "", finished=ago(days=6))
    job(ice, "ice-1", "Strange.NewCode", finished=ago(minutes=40), message="what is this")
    # Not failures: the same codes on a canceled and a succeeded job, and running jobs.
    job(vod, "vod-c", "InvalidInput", state="canceled", finished=ago(minutes=5))
    job(ivh, "ivh-s", "", state="succeeded", finished=ago(minutes=5))
    job(ivh, "ivh-r", "", state="running")
    return accounts


def fresh_groups(start: datetime, end: datetime, **scope) -> dict[tuple[str, str], tuple]:
    """(provider, code) -> (count, first seen, last seen), counted in Python from every job."""
    seen: dict[tuple[str, str], list[datetime]] = {}
    for each in Job.objects.select_related("account"):
        at = each.finished_at or each.tracked_at
        if each.state != "failed" or not start <= at < end:
            continue
        if scope.get("provider") and each.account.provider != scope["provider"]:
            continue
        if scope.get("account") and each.account != scope["account"]:
            continue
        seen.setdefault((each.account.provider, each.failure_code), []).append(at)
    return {key: (len(times), min(times), max(times)) for key, times in seen.items()}


def shown_groups(response) -> dict[tuple[str, str], tuple]:
    return {
        (row.group.provider, row.group.failure_code): (
            row.group.count,
            row.group.first_seen,
            row.group.last_seen,
        )
        for row in response.context["page"].rows
    }


@pytest.mark.parametrize(
    ("window", "length", "expected_counts"),
    [
        ("1h", timedelta(hours=1), {"InvalidInput": 2, "SourceFileError": 2, "801005": 1}),
        ("24h", timedelta(hours=24), {"InvalidInput": 3, "SourceFileError": 3, "801005": 2}),
        ("7d", timedelta(days=7), {"InvalidInput": 4, "SourceFileError": 4, "801005": 2}),
    ],
)
def test_groups_match_a_fresh_count_in_each_window(
    viewer_client, world, window, length, expected_counts
):
    response = viewer_client.get(URL, {"window": window})
    assert response.status_code == 200
    page = response.context["page"]
    assert page.end - page.start == length
    assert page.start <= timezone.now() - length + timedelta(seconds=1)
    shown = shown_groups(response)
    assert shown == fresh_groups(page.start, page.end)
    coded = {code: n for (_, code), (n, _, _) in shown.items() if code}
    assert coded == {**expected_counts, "Strange.NewCode": 1}
    counts = [row.group.count for row in page.rows]
    assert counts == sorted(counts, reverse=True)  # the largest group first
    assert page.total == sum(counts)


def test_provider_and_account_filters_narrow_the_groups(viewer_client, world):
    response = viewer_client.get(URL, {"provider": "tencent_ivh"})
    page = response.context["page"]
    assert shown_groups(response) == fresh_groups(page.start, page.end, provider="tencent_ivh")
    assert {code for _, code in shown_groups(response)} == {"801005", ""}

    vod = world["tencent_vod"]
    response = viewer_client.get(URL, {"account": str(vod.code), "window": "7d"})
    page = response.context["page"]
    assert shown_groups(response) == fresh_groups(page.start, page.end, account=vod)
    assert "for the account sim-tencent_vod" in response.content.decode()


def test_each_group_shows_the_job_pages_explanation_and_an_example(viewer_client, world):
    html = viewer_client.get(URL).content.decode()
    vod = world["tencent_vod"].adapter_class.explain_failure("InvalidInput")
    assert escape(vod.summary) in html and escape(vod.action) in html  # its catalogue.toml
    assert "Retrying the same job will not help." in html
    assert "Definition 10 missing" in html  # the example message
    # A code the catalogue does not know says so, as the job page does.
    assert escape(UNKNOWN_FAILURE.summary) in html and "what is this" in html
    assert "The provider gave no failure code." in html and "no code given" in html
    example = Job.objects.get(external_id="vod-1")
    assert reverse("job-detail", args=[example.code]) in html
    # A long message is shortened, visibly; its job page has it all.
    Job.objects.filter(pk=example.pk).update(failure_message="word " * 200 + "END")
    html = viewer_client.get(URL).content.decode()
    assert "word word…" in html and "END" not in html


def test_the_job_page_still_explains_a_failure(viewer_client, world):
    failed = Job.objects.get(external_id="vod-1")
    html = viewer_client.get(reverse("job-detail", args=[failed.code])).content.decode()
    explanation = world["tencent_vod"].adapter_class.explain_failure("InvalidInput")
    assert "Why it failed" in html and explanation.summary in html
    assert "<blockquote>Definition 10 missing</blockquote>" in html


@pytest.mark.parametrize("scope", [{}, {"window": "7d"}, {"provider": "tencent_vod"}, "account"])
def test_a_groups_link_lists_exactly_the_jobs_it_counts(viewer_client, world, scope):
    if scope == "account":
        scope = {"account": str(world["tencent_ivh"].code), "window": "7d"}
    page = viewer_client.get(URL, scope).context["page"]
    assert page.rows
    for row in page.rows:
        listed = viewer_client.get(row.list_url)
        assert listed.status_code == 200, row.list_url
        tabs = {tab["label"]: tab["count"] for tab in listed.context["tabs"]}
        assert tabs["Failed"] == row.group.count, row.list_url
        jobs = [r.job for r in listed.context["rows"]]
        assert len(jobs) == row.group.count
        assert {(j.account.provider, j.failure_code, j.state) for j in jobs} == {
            (row.group.provider, row.group.failure_code, "failed")
        }
        html = listed.content.decode()
        assert 'name="finished_from"' in html  # the list shows the window it applies


def test_the_filtered_list_pages_through_a_group_with_its_keyset(
    viewer_client, accounts, monkeypatch
):
    monkeypatch.setattr("dashboard.jobs.views.PAGE_SIZE", 4)
    now = timezone.now()
    for n in range(11):  # some share a tracking time: the keyset's id breaks the tie
        job(
            accounts["tencent_ci"],
            f"ci-{n:02}",
            "InvalidInput",
            finished=now - timedelta(minutes=n // 3),
        )
    job(accounts["tencent_ci"], "ci-other", "Other", finished=now)
    (row,) = [r for r in viewer_client.get(URL).context["page"].rows if r.group.count == 11]
    seen, url = [], row.list_url
    while url:
        response = viewer_client.get(url if url.startswith("/") else reverse("job-list") + url)
        seen += [r.job.external_id for r in response.context["rows"]]
        url = response.context["next_url"]
    assert sorted(seen) == [f"ci-{n:02}" for n in range(11)]


def test_the_page_says_its_window_and_when_it_was_computed(viewer_client, world):
    response = viewer_client.get(URL, {"window": "1h"})
    html = response.content.decode()
    page = response.context["page"]
    assert "that finished in the last hour" in html
    assert f'<time datetime="{page.start.isoformat()}"' in html
    assert f'<time datetime="{page.end.isoformat()}"' in html
    assert f'datetime="{page.computed_at.isoformat()}" data-age' in html
    assert "<title>(7 failed) Failures · Clapboard</title>" in html
    links = re.findall(r'<a href="([^"]*)" class="tab( selected)?"', html)
    assert [(parse_qs(urlsplit(href).query)["window"][0], bool(on)) for href, on in links] == [
        ("1h", True),
        ("24h", False),
        ("7d", False),
    ]
    assert 'aria-current="page">Last hour</a>' in html
    # The other filters ride along on the window links.
    html = viewer_client.get(URL, {"provider": "tencent_vod"}).content.decode()
    assert "?provider=tencent_vod&amp;window=7d" in html


def test_an_empty_window_says_so_plainly(viewer_client, accounts):
    job(
        accounts["tencent_vod"],
        "vod-old",
        "InvalidInput",
        finished=timezone.now() - timedelta(days=2),
    )
    html = viewer_client.get(URL).content.decode()
    assert "No failures in the last 24 hours." in html and "<table" not in html
    html = viewer_client.get(URL, {"window": "1h", "provider": "tencent_ci"}).content.decode()
    assert "No failures in the last hour for Tencent Cloud Infinite." in html
    assert 'href="?provider=tencent_ci&amp;window=7d">Look at the last 7 days' in html
    assert "1 failed job" in viewer_client.get(URL, {"window": "7d"}).content.decode()


def test_failing_accounts_mark_the_groups_as_possibly_incomplete(viewer_client, world):
    assert "account failing" not in viewer_client.get(URL).content.decode()
    Account.objects.filter(pk=world["tencent_vod"].pk).update(
        consecutive_failures=3, last_ok_at=timezone.now() - timedelta(minutes=30)
    )
    html = viewer_client.get(URL).content.decode()
    assert "1 account failing" in html and "sim-tencent_vod" in html
    assert "data up to" in html
    # Out of the filter's scope, the failing account is not this page's concern.
    assert (
        "account failing"
        not in viewer_client.get(URL, {"provider": "tencent_ivh"}).content.decode()
    )


@pytest.mark.parametrize(
    "params",
    [
        {"window": "2h"},
        {"window": "24h\x00"},
        {"provider": "nope"},
        {"account": "not-a-uuid"},
        {"account": "00000000-0000-0000-0000-000000000000"},
        {"window": "x" * 5000, "provider": "<script>"},
    ],
)
def test_bad_parameters_are_a_400_that_says_what_is_wrong(viewer_client, world, params):
    response = viewer_client.get(URL, params)
    assert response.status_code == 400
    html = response.content.decode()
    assert "No failures are shown" in html and "field-error" in html
    assert "<script>" not in html and "failure-group" not in html


def test_a_valid_window_stays_marked_beside_another_fields_error(viewer_client, world):
    html = viewer_client.get(URL, {"window": "7d", "provider": "nope"}).content.decode()
    assert 'aria-current="page">7 days</a>' in html
    assert 'href="?provider=nope&amp;window=1h"' in html


def test_unknown_parameters_are_ignored(viewer_client, world):
    response = viewer_client.get(URL, {"after": "garbage", "q": "x", "window": "7d"})
    assert response.status_code == 200 and response.context["page"].rows


def test_the_page_reads_a_fixed_number_of_queries(
    viewer_client, world, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = viewer_client.get(URL, {"window": "7d"})
    assert len(response.context["page"].rows) == 5


def test_viewers_see_it_outsiders_do_not_and_anonymous_go_to_login(
    viewer_client, outsider_client, world
):
    assert viewer_client.get(URL).status_code == 200
    assert outsider_client.get(URL).status_code == 403
    response = Client().get(URL + "?window=7d")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=/failures/")
    assert reverse("failures") == URL
    nav = re.search(
        r'<nav aria-label="Main">(.*?)</nav>', viewer_client.get(URL).content.decode(), re.S
    )
    assert 'href="/failures/" aria-current="page">Failures</a>' in nav.group(1)
