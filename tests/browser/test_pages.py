"""The operator pages in a real browser: live updates, filters, sharing, the word preview."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from jobs.models import Job
from tests.browser.conftest import finished_ivh_job, screenshot
from tests.updates import apply_failure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_until(page, expression: str, arg=None, timeout: float = 10.0) -> None:
    """Poll a condition from Python: page.wait_for_function evaluates strings inside the
    page, which the dashboard's CSP (no 'unsafe-eval') rightly refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def _job(account, external_id, state="running", **fields) -> Job:
    return Job.objects.create(account=account, external_id=external_id, state=state, **fields)


def test_the_list_updates_by_itself_when_a_job_changes(
    page_for, operator, accounts, console_errors
):
    job = _job(accounts["tencent_ivh"], "ivh-live", progress=20, name="Live one")
    _job(accounts["tencent_vod"], "vod-steady", name="Steady one")
    page = page_for(operator)
    row = page.locator(f"#job-{job.code}")
    expect(row).to_contain_text("Running")
    page.evaluate("window.__noReload = true")

    apply_failure(job, code="801005", message="text failed review")

    expect(row).to_contain_text("Failed", timeout=15_000)
    expect(row).to_contain_text("801005")
    expect(page).to_have_title(re.compile(r"^\(1 failed\) Jobs"))
    assert page.evaluate("window.__noReload") is True  # swapped in place, not reloaded
    expect(page.locator(".tab-failed .count")).to_have_text("1")
    screenshot(page, "list")
    assert console_errors == []


def test_filters_and_search_combine_in_the_url(page_for, viewer, accounts, console_errors):
    _job(accounts["tencent_vod"], "vod-alpha", "failed", name="alpha promo")
    _job(accounts["tencent_vod"], "vod-beta", "failed", name="beta promo")
    _job(accounts["tencent_ci"], "ci-alpha", "failed", name="alpha voice")
    _job(accounts["tencent_vod"], "vod-alpha-ok", "succeeded", name="alpha trailer")
    page = page_for(viewer)
    page.get_by_role("link", name=re.compile("^Failed")).click()
    page.fill("input[name=q]", "alpha")
    page.select_option("select[name=provider]", "tencent_vod")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    expect(page.locator("table.jobs tbody")).to_contain_text("alpha promo")
    assert all(p in page.url for p in ("state=failed", "q=alpha", "provider=tencent_vod"))
    page.reload()  # bookmarkable: the same view comes back
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    assert console_errors == []


def _finished_job_page(page_for, user, simulator, accounts, external_id: str) -> tuple[Job, Page]:
    """A job Tencent IVH has finished, and `user`'s page on its detail view."""
    job = finished_ivh_job(simulator, accounts["tencent_ivh"], external_id)
    page = page_for(user)
    page.goto(page.url + f"jobs/{job.code}/")
    return job, page


def test_a_share_link_opens_without_login_and_shows_no_dashboard_data(
    page_for, operator, simulator, accounts, console_errors
):
    job, page = _finished_job_page(page_for, operator, simulator, accounts, "ivh-share")
    page.get_by_role("button", name=re.compile("Create read-only link")).click()
    share_url = page.locator("[data-share-url], input[readonly]").first
    expect(share_url).to_be_visible()
    url = share_url.get_attribute("value") or share_url.inner_text()
    assert "/s/" in url

    stranger = page_for()  # a fresh context: no session cookie
    response = stranger.goto(url)
    assert response.status == 200
    assert job.external_id not in stranger.inner_text("body")  # (the media URL may hold it)
    assert accounts["tencent_ivh"].name not in stranger.content()
    assert stranger.locator("a[href^='/jobs/'], a[href^='/admin/'], nav").count() == 0
    expect(stranger.locator(".word").first).to_be_visible()
    screenshot(stranger, "share")
    assert console_errors == []


def test_playing_moves_the_highlighted_word_and_clicking_a_word_seeks(
    page_for, viewer, simulator, accounts, console_errors
):
    job, page = _finished_job_page(page_for, viewer, simulator, accounts, "ivh-words")
    media = page.locator("#job-media")
    expect(media).to_be_attached()
    wait_until(page, "document.querySelector('#job-media').readyState >= 1")

    page.evaluate("document.querySelector('#job-media').play()")
    wait_until(page, "document.querySelector('#job-media').currentTime > 0.3")
    first = page.locator(".word.current").first.get_attribute("data-start")
    wait_until(
        page,
        "(start) => { const w = document.querySelector('.word.current');"
        " return !!w && w.dataset.start !== start; }",
        first,
    )
    page.evaluate("document.querySelector('#job-media').pause()")

    last_word = page.locator(".word").last
    last_word.click()
    start = int(last_word.get_attribute("data-start"))
    position = page.evaluate("document.querySelector('#job-media').currentTime")
    assert abs(position - start / 1000) < 0.05
    expect(last_word).to_have_class(re.compile(r"\bcurrent\b"))
    screenshot(page, "detail")
    assert console_errors == []
