from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobEvent
from jobs.refresh import refresh_once
from tests.updates import apply_failure

pytestmark = pytest.mark.django_db


def make(account, external_id, state="running", **fields):
    job = Job.objects.create(account=account, external_id=external_id, state=state, **fields)
    JobEvent.objects.create(job=job, state=state)
    return job


def htmx(client, url, **params):
    return client.get(url, params, HTTP_HX_REQUEST="true")


def test_list_shows_every_column(viewer_client, accounts):
    make(accounts["tencent_ivh"], "ivh-q", "queued", queue_position=12, name="Morning show")
    make(accounts["tencent_vod"], "vod-r", "running", progress=62, kind="Procedure")
    make(
        accounts["aliyun_ice"],
        "ice-f",
        "failed",
        failure_code="InvalidInput.NotExist",
        failure_message="input file missing",
    )
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert "Morning show" in html and "#12 in queue" in html
    assert 'value="62"' in html and "62 %" in html and "Procedure" in html
    assert "InvalidInput.NotExist" in html
    assert 'title="Provider state: ' in html
    assert "<title>(1 failed) Jobs · Clapboard</title>" in html


def test_state_tabs_count_and_filter(viewer_client, accounts):
    for n in range(3):
        make(accounts["tencent_ci"], f"f{n}", "failed")
    make(accounts["tencent_ci"], "ok", "succeeded")
    response = viewer_client.get(reverse("job-list"), {"state": "failed"})
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert tabs["All"] == 4 and tabs["Failed"] == 3 and tabs["Succeeded"] == 1
    assert [r.job.external_id for r in response.context["rows"]] == ["f2", "f1", "f0"]


def test_filters_and_search_combine(viewer_client, accounts):
    make(accounts["tencent_vod"], "vod-alpha", "failed", name="alpha promo")
    make(accounts["tencent_vod"], "vod-beta", "running", name="beta promo")
    make(accounts["tencent_ci"], "ci-alpha", "failed", name="alpha voice")
    response = viewer_client.get(
        reverse("job-list"), {"q": "alpha", "state": "failed", "provider": "tencent_vod"}
    )
    assert [r.job.external_id for r in response.context["rows"]] == ["vod-alpha"]
    response = viewer_client.get(
        reverse("job-list"), {"account": str(accounts["tencent_ci"].code), "q": "ci-al"}
    )
    assert [r.job.external_id for r in response.context["rows"]] == ["ci-alpha"]
    today = timezone.now().date()
    response = viewer_client.get(
        reverse("job-list"), {"created_from": str(today + timedelta(days=1))}
    )
    assert response.context["rows"] == []


def test_keyset_pagination_walks_every_job_once(viewer_client, accounts, monkeypatch):
    monkeypatch.setattr("dashboard.jobs.views.PAGE_SIZE", 7)
    base = timezone.now()
    for n in range(20):
        make(accounts["tencent_ivh"], f"p{n:02}", tracked_at=base - timedelta(seconds=n // 3))
    seen, url = [], reverse("job-list")
    while url:
        response = viewer_client.get(url if url.startswith("/") else reverse("job-list") + url)
        seen += [r.job.external_id for r in response.context["rows"]]
        url = response.context["next_url"]
    assert sorted(seen) == [f"p{n:02}" for n in range(20)] and len(seen) == 20


def test_unchanged_poll_is_204_and_a_change_rerenders(viewer_client, accounts):
    job = make(accounts["tencent_ivh"], "ivh-live", "running", progress=10)
    first = htmx(viewer_client, reverse("job-list"))
    assert first.status_code == 200
    token = first.context["live_url"].split("v=")[1]
    assert htmx(viewer_client, reverse("job-list"), v=token).status_code == 204

    apply_failure(job, code="801005")
    changed = htmx(viewer_client, reverse("job-list"), v=token)
    html = changed.content.decode()
    assert changed.status_code == 200 and "801005" in html
    assert html.lstrip().startswith("<title>(1 failed)")  # htmx updates the tab title
    assert "<html" not in html  # the partial only


def test_provider_text_is_escaped(viewer_client, accounts):
    make(
        accounts["tencent_ivh"],
        "ivh-x",
        "failed",
        name="<script>alert(1)</script>",
        failure_code="<b>x</b>",
        failure_message="<img src=x onerror=alert(2)>",
    )
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "<b>x</b>" not in html


def test_empty_states_say_what_to_do(operator_client, accounts):
    html = operator_client.get(reverse("job-list")).content.decode()
    assert "No jobs yet" in html and reverse("track") in html
    make(accounts["tencent_ivh"], "one")
    html = operator_client.get(reverse("job-list"), {"q": "nothing-like-this"}).content.decode()
    assert "No jobs match these filters" in html


def test_search_counts_stop_at_a_cap_and_say_so(viewer_client, accounts, monkeypatch):
    monkeypatch.setattr("jobs.selectors.COUNT_CAP", 3)
    for n in range(5):
        make(accounts["tencent_vod"], f"vod-news-{n}", "failed", name=f"news {n}")
    tabs = {
        t["label"]: t["count"]
        for t in viewer_client.get(reverse("job-list"), {"q": "news"}).context["tabs"]
    }
    assert tabs["All"] == "3+" and tabs["Failed"] == "3+" and tabs["Running"] == "—"
    tabs = {t["label"]: t["count"] for t in viewer_client.get(reverse("job-list")).context["tabs"]}
    assert tabs["Failed"] == 5  # without a search the kept counts are exact


def tab_counts(response) -> dict[str, object]:
    return {t["label"]: t["count"] for t in response.context["tabs"]}


def test_a_capped_count_never_reads_as_an_exact_small_number(viewer_client, accounts, monkeypatch):
    monkeypatch.setattr("jobs.selectors.COUNT_CAP", 3)
    for n in range(5):  # first in the table: a count of "any 3 matches" sees only these
        make(accounts["tencent_vod"], f"vod-news-f{n}", "failed", name=f"news {n}")
    for n in range(2):
        make(accounts["tencent_vod"], f"vod-news-r{n}", "running", name=f"news r{n}")
    response = viewer_client.get(reverse("job-list"), {"q": "news"})
    tabs = tab_counts(response)
    # Counting stopped at 3 matches, read in no particular order (the database picks the
    # index): no tab may claim an exact small number, whichever matches those were.
    assert tabs["All"] == "3+"
    sampled = {label: count for label, count in tabs.items() if label != "All" and count != "—"}
    assert all(re.fullmatch(r"\d\+", str(count)) for count in sampled.values()), tabs
    assert sum(int(str(count)[:-1]) for count in sampled.values()) == 3
    assert set(sampled) <= {"Failed", "Running"}
    assert tabs["Paused"] == tabs["Unknown"] == "—"  # maybe there are some: they stay shown
    running = viewer_client.get(reverse("job-list"), {"q": "news", "state": "running"})
    assert len(running.context["rows"]) == 2
    assert re.fullmatch(r"—|\d\+", str(tab_counts(running)["Running"]))  # never a bare 0-2
    narrow = viewer_client.get(reverse("job-list"), {"q": "news r"})
    assert tab_counts(narrow)["Running"] == 2 and tab_counts(narrow)["All"] == 2  # exact
    html = response.content.decode()
    failed = str(tabs["Failed"])
    if failed != "—":  # a lower bound reads as one on the tab and in the title
        assert re.search(
            rf'tab-failed[^"]*"[^>]*>Failed <span class="count">{failed[:-1]}\+</span>', html
        )
        assert f"<title>({failed} failed) Jobs" in html


def test_tabs_add_up_to_all_and_every_state_is_reachable(viewer_client, accounts):
    per_state = {"queued": 2, "running": 3, "paused": 1, "succeeded": 2, "failed": 1}
    per_state |= {"canceled": 1, "unknown": 2}
    for state, count in per_state.items():
        for n in range(count):
            make(accounts["tencent_vod"], f"{state}-{n}", state)
    response = viewer_client.get(reverse("job-list"))
    tabs = response.context["tabs"]
    counts = {t["label"]: t["count"] for t in tabs}
    assert sum(c for label, c in counts.items() if label != "All") == counts["All"] == 12
    for state, count in per_state.items():
        reaching = [t for t in tabs if f"state={state}" in t["url"]]
        assert len(reaching) == 1, state
        listed = viewer_client.get(reverse("job-list") + reaching[0]["url"])
        assert {r.job.state for r in listed.context["rows"]} == {state}
        assert len(listed.context["rows"]) == reaching[0]["count"] == count


def test_tabs_of_rare_states_show_only_when_they_have_jobs(viewer_client, accounts):
    make(accounts["tencent_vod"], "one", "running")
    labels = [t["label"] for t in viewer_client.get(reverse("job-list")).context["tabs"]]
    assert "Paused" not in labels and "Unknown" not in labels and "Canceled" in labels
    selected = viewer_client.get(reverse("job-list"), {"state": "unknown"}).context["tabs"]
    assert [t["count"] for t in selected if t["label"] == "Unknown"] == [0]


BAD_FILTERS = [
    ({"created_from": "notadate"}, "created_from", "Enter a valid date"),
    ({"state": "bogus"}, "state", "is not a state"),
    ({"provider": "nope"}, "provider", "Select a valid choice"),
    ({"account": "not-an-account"}, "account", "is not a valid UUID"),
    ({"account": "2f6c1a52-8a57-4cb2-9a0e-1c1f1d0c0b7e"}, "account", "Select a valid choice"),
    ({"kind": "procedure"}, "kind", "No job has this kind"),
    ({"q": "x" * 10_240}, "q", "at most 255 characters"),
    ({"created_from": "2026-03-02", "created_to": "2026-03-01"}, "created_to", "before"),
    ({"created_to": "9999-12-31"}, "created_to", "Enter a date from 1970-01-01"),
    ({"created_from": "0001-01-01"}, "created_from", "Enter a date from 1970-01-01"),
    ({"failure_code": "x" * 129}, "failure_code", "at most 128 characters"),
    ({"failure_code": "a\x00b"}, "failure_code", "Null characters are not allowed"),
    ({"finished_from": "yesterday"}, "finished_from", "Enter a valid date/time"),
    ({"finished_to": "0001-01-01T00:00:00"}, "finished_to", "Enter a time from 1970-01-01"),
    ({"finished_from": "9999-12-31T23:59:59"}, "finished_from", "Enter a time from 1970-01-01"),
    (
        {"finished_from": "2026-03-02T10:00:00", "finished_to": "2026-03-02T10:00:00"},
        "finished_to",
        "not after",
    ),
]


@pytest.mark.parametrize(("params", "field", "message"), BAD_FILTERS)
def test_invalid_filters_are_reported_next_to_the_field_and_list_nothing(
    viewer_client, accounts, params, field, message
):
    make(
        accounts["tencent_vod"],
        "vod-visible",
        "failed",
        name="Should not be listed",
        kind="Procedure",
    )
    response = viewer_client.get(reverse("job-list"), params)
    html = response.content.decode()
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error[^"]*" id="id_{field}_error">([^<]*)</p>', html)
    assert error and message in error.group(1).replace("&#x27;", "'")
    if field != "state":  # the state is the tab, carried in a hidden field
        tag = re.search(rf'<(input|select)[^>]*name="{field}"[^>]*>', html).group(0)
        assert f'aria-describedby="id_{field}_error"' in tag and 'aria-invalid="true"' in tag
    assert "Should not be listed" not in html and 'id="job-live"' not in html
    assert "No jobs are listed" in html
    assert re.search(r'<a class="button quiet" href="/">Clear</a>', html)


def test_clear_shows_whenever_a_filter_is_set(viewer_client, accounts):
    make(accounts["tencent_vod"], "vod-1", "failed", kind="Procedure")
    clear = '<a class="button quiet" href="/">Clear</a>'
    assert clear not in viewer_client.get(reverse("job-list")).content.decode()
    for params in ({"kind": "Procedure"}, {"state": "failed"}, {"q": "vod"}):
        assert clear in viewer_client.get(reverse("job-list"), params).content.decode()


def test_far_future_dates_are_a_400_in_the_api_too(viewer, accounts):
    from jobs.services.api_tokens import api_token_create

    token = api_token_create(user=viewer, name="script")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    for params in ({"created_to": "9999-12-31"}, {"created_from": "9999-12-31"}):
        response = client.get("/api/v1/jobs", params)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid" and "Enter a date from 1970-01-01" in error["message"]
    assert client.get("/api/v1/jobs", {"created_to": "2099-12-31"}).status_code == 200


def test_task_id_search_matches_any_part_of_the_id(viewer_client, accounts):
    make(accounts["tencent_vod"], "5285890784246869ef2094", "running")
    make(accounts["tencent_ci"], "s2a3f9e1c0d44b6e8c2b7a", "failed")
    for fragment in ("ef2094", "89078424", "EF2094", "5285"):
        rows = viewer_client.get(reverse("job-list"), {"q": fragment}).context["rows"]
        assert [r.job.external_id for r in rows] == ["5285890784246869ef2094"], fragment
    rows = viewer_client.get(reverse("job-list"), {"q": "s2"}).context["rows"]
    assert [r.job.external_id for r in rows] == ["s2a3f9e1c0d44b6e8c2b7a"]  # short: a prefix


def test_kind_is_a_choice_among_the_kinds_that_exist(viewer_client, accounts):
    make(accounts["tencent_vod"], "vod-1", "running", kind="Procedure")
    make(accounts["tencent_vod"], "vod-2", "running", kind="Procedure")
    make(accounts["tencent_ci"], "ci-1", "running", kind="VoiceSeparate")
    make(accounts["tencent_ci"], "ci-2", "running")
    html = viewer_client.get(reverse("job-list")).content.decode()
    select = re.search(r'<select name="kind"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "Procedure", "VoiceSeparate"]
    rows = viewer_client.get(reverse("job-list"), {"kind": "VoiceSeparate"}).context["rows"]
    assert [r.job.external_id for r in rows] == ["ci-1"]


def test_the_failed_count_is_red_only_when_there_are_failures(viewer_client, accounts):
    make(accounts["tencent_vod"], "vod-ok", "succeeded")
    failed_tab = r'<a href="[^"]*" class="tab tab-failed([^"]*)"'
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert "attention" not in re.search(failed_tab, html).group(1)
    make(accounts["tencent_vod"], "vod-bad", "failed")
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert "attention" in re.search(failed_tab, html).group(1)


def test_columns_say_media_length_and_the_time_of_the_last_change(viewer_client, accounts):
    now = timezone.now()
    job = make(accounts["tencent_vod"], "vod-old-failure", "failed", duration_ms=12_000)
    JobEvent.objects.filter(job=job).update(at=now - timedelta(hours=1))
    Job.objects.filter(pk=job.pk).update(last_polled_at=now - timedelta(seconds=28))
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert re.search(
        r'<th scope="col" class="num"><a class="sort"[^>]*>Media length</a></th>', html
    )
    assert re.search(r'<th scope="col"><a class="sort"[^>]*>Last change</a></th>', html)
    assert ">Updated<" not in html
    changed = re.search(r'<td class="changed"[^>]*>(.*?)</td>', html, re.S).group(1)
    stamps = re.findall(r'<time datetime="([^"]+)"', changed)
    assert stamps == [
        (now - timedelta(hours=1)).isoformat(),
        (now - timedelta(seconds=28)).isoformat(),
    ]
    assert "checked" in changed
    assert "12.0 s" in html


@pytest.mark.django_db(transaction=True)  # the refresh loop polls from worker threads
def test_failing_accounts_mark_the_list_stale_within_one_poll(viewer_client, simulator, accounts):
    simulator.add_job("tencent_ivh", "ivh-1", pinned="running", pinned_progress=10)
    job = make(accounts["tencent_ivh"], "ivh-1", "running", progress=10)
    make(accounts["tencent_vod"], "vod-1", "running", progress=10)
    first = htmx(viewer_client, reverse("job-list"))
    assert "account failing" not in first.content.decode()
    assert "data-stale-since" not in first.content.decode()
    token = first.context["live_url"].split("v=")[1]
    assert htmx(viewer_client, reverse("job-list"), v=token).status_code == 204

    account = accounts["tencent_ivh"]
    services.account_record_ok(account_id=account.pk, now=timezone.now() - timedelta(minutes=2))
    simulator.inject("bad_signature", "tencent_ivh")
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once(account_names=[account.name])
    account.refresh_from_db()
    assert account.consecutive_failures > 0

    polled = htmx(viewer_client, reverse("job-list"), v=token)
    html = polled.content.decode()
    assert polled.status_code == 200  # the health change alone changes the token
    assert re.search(r'<a href="/accounts/">1 account failing</a>\s*— data up to <time', html)
    assert "2 min</time> old" in html and "sim-tencent_ivh" in html
    assert f'data-stale-since="{account.last_ok_at.isoformat()}"' in html
    row = re.search(r'<tr id="job-[^"]+"[^>]*>(?:(?!</tr>).)*ivh-1.*?</tr>', html, re.S).group(0)
    assert "account paused" in row  # the same reason the job page gives (jobs.freshness)
    # Filtered to another provider, the list's data is not the failing account's.
    other = viewer_client.get(reverse("job-list"), {"provider": "tencent_vod"}).content.decode()
    assert "account failing" not in other


def test_a_login_redirect_of_an_htmx_request_sends_the_browser_to_login(client, accounts):
    job = make(accounts["tencent_vod"], "vod-1", "running")
    pages = {
        reverse("job-list") + "?v=1": "http://testserver/?q=vod&state=running",
        reverse("job-detail", args=[job.code]) + "?v=3": f"http://testserver/jobs/{job.code}/",
        reverse("account-health"): "http://testserver/accounts/",
    }
    for url, page in pages.items():
        response = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page)
        assert response.status_code == 401
        path = page.removeprefix("http://testserver")
        assert response["HX-Redirect"] == "/login/?" + urlencode({"next": path})
        assert client.get(url).status_code == 302  # a plain request is redirected as before
    foreign = client.get(
        reverse("job-list"), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/x"
    )
    assert foreign["HX-Redirect"] == "/login/?next=%2F"


def test_failure_code_and_finished_filters_and_how_they_show(viewer_client, accounts):
    """The Failures page's links filter by code (`-`: none) and finish time (the
    provider's, else the first sighting; from included, to not); a datetime-local input
    cannot show an offset, so the field shows the time in its own format."""
    now = timezone.now().replace(microsecond=0)
    vod = accounts["tencent_vod"]
    make(vod, "coded", "failed", failure_code="InvalidInput", finished_at=now - timedelta(hours=2))
    make(vod, "plain", "failed", finished_at=now - timedelta(hours=1))
    make(vod, "first-seen", "failed", tracked_at=now - timedelta(minutes=30))
    make(vod, "ok", "succeeded", finished_at=now - timedelta(minutes=10))
    make(vod, "running", "running", tracked_at=now - timedelta(minutes=5))  # not finished
    make(vod, "at-the-end", "failed", finished_at=now)

    def listed(**params):
        response = viewer_client.get(reverse("job-list"), params)
        assert response.status_code == 200
        return {row.job.external_id for row in response.context["rows"]}

    assert listed(failure_code="InvalidInput") == {"coded"}
    assert listed(failure_code="-", state="failed") == {"plain", "first-seen", "at-the-end"}
    since = (now - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%S")
    until = now.strftime("%Y-%m-%dT%H:%M:%S")
    assert listed(finished_from=since, finished_to=until) == {"plain", "first-seen", "ok"}
    assert listed(finished_from=until) == {"at-the-end"}

    html = viewer_client.get(
        reverse("job-list"), {"finished_from": f"{since}.5+00:00", "failure_code": "-"}
    ).content.decode()
    assert f'name="finished_from" value="{since}"' in html
    assert 'name="failure_code" value="-"' in html  # the other fields as they were
    assert 'name="finished_from"' not in viewer_client.get(reverse("job-list")).content.decode()
