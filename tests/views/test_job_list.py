from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job, JobEvent
from jobs.providers.base import JobStatus, State
from jobs.services import job_apply_status

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
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 7)
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

    status = JobStatus(
        external_id="ivh-live", state=State.FAILED, provider_state="FAIL", failure_code="801005"
    )
    job_apply_status(job_id=job.pk, status=status, asked_at=timezone.now())
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
    monkeypatch.setattr("dashboard.forms.COUNT_CAP", 3)
    for n in range(5):
        make(accounts["tencent_vod"], f"vod-news-{n}", "failed", name=f"news {n}")
    tabs = {
        t["label"]: t["count"]
        for t in viewer_client.get(reverse("job-list"), {"q": "news"}).context["tabs"]
    }
    assert tabs["All"] == "3+" and tabs["Failed"] == "3+" and tabs["Running"] == 0
    tabs = {t["label"]: t["count"] for t in viewer_client.get(reverse("job-list")).context["tabs"]}
    assert tabs["Failed"] == 5  # without a search the kept counts are exact
