"""An open job page in a real browser: it comes to say its data is stale within one poll
when the provider starts failing, and its timeline updates live (issue 11, items 1, 15)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Account, Job, JobEvent
from jobs.refresh import refresh_once
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONE_POLL_MS = 4_000 + 3_000  # the page polls every 4 s; the rest is slack for a busy machine


def _poll_now(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()


def test_an_open_job_page_turns_stale_within_one_poll_and_its_timeline_is_live(
    page_for, operator, simulator, accounts, console_errors
):
    account = accounts["tencent_ivh"]
    sim_job = simulator.add_job("tencent_ivh", "ivh-open", pinned="running", pinned_progress=21)
    job = Job.objects.create(account=account, external_id="ivh-open", name="Open page")
    refresh_once()
    page = page_for(operator)
    page.goto(page.url + f"jobs/{job.code}/")
    header = page.locator("#job-live")
    newest = page.locator("ol.timeline > li").first
    expect(header).to_contain_text("21 %")
    expect(newest).to_contain_text("Running")
    expect(page.locator("#job-stale")).to_have_count(0)
    page.evaluate("window.__noReload = true")

    # The account's signature starts being rejected: nothing about the job changes.
    simulator.inject("bad_signature", "tencent_ivh")
    _poll_now(job)
    stale = page.locator("#job-stale")
    expect(stale).to_contain_text("Not current", timeout=ONE_POLL_MS)
    expect(stale).to_contain_text("is paused until")
    expect(stale.locator("a", has_text=account.name)).to_have_attribute("href", "/accounts/")
    expect(page.locator(".progress-line")).to_contain_text("No estimate while the data is not")
    expect(page.locator("#next-check")).to_contain_text("when the account's pause ends")
    expect(page.locator("#next-check")).not_to_have_text(re.compile(r"ago"))
    expect(newest).to_contain_text("Checks failing")  # the timeline came with the same poll
    screenshot(page, "job-stale")

    # Fixed: the next check answers, and header and timeline move together.
    simulator.clear_faults()
    Account.objects.filter(pk=account.pk).update(retry_at=None)
    sim_job.pinned_progress = 62
    _poll_now(job)
    expect(header).to_contain_text("62 %", timeout=ONE_POLL_MS)
    expect(stale).to_have_count(0)
    expect(newest).to_contain_text("62 %")
    expect(page.locator("ol.timeline")).to_contain_text("Checks recovered")
    assert page.evaluate("window.__noReload") is True  # swapped in place, not reloaded
    screenshot(page, "job-live")
    assert console_errors == []


def test_an_expanded_run_of_progress_ticks_stays_open_across_polls(
    page_for, operator, simulator, accounts, console_errors
):
    sim_job = simulator.add_job("tencent_ivh", "ivh-ticks", pinned="running", pinned_progress=10)
    job = Job.objects.create(account=accounts["tencent_ivh"], external_id="ivh-ticks")
    refresh_once()
    for progress in (20, 30):
        sim_job.pinned_progress = progress
        _poll_now(job)
    page = page_for(operator)
    page.goto(page.url + f"jobs/{job.code}/")
    run = page.locator("ol.timeline details").first
    expect(run).to_contain_text("Running 10 → 30 %, 3 updates")
    run.locator("summary").click()
    expect(run.locator("ol.ticks li")).to_have_count(3)

    sim_job.pinned_progress = 45
    _poll_now(job)
    expect(run).to_contain_text("Running 10 → 45 %, 4 updates", timeout=ONE_POLL_MS)
    expect(run.locator("ol.ticks li")).to_have_count(4)
    assert run.evaluate("el => el.open") is True
    assert console_errors == []


def test_a_provider_without_progress_shows_a_moving_bar_and_the_time_so_far(
    page_for, operator, simulator, accounts, console_errors
):
    simulator.add_job("aliyun_ice", "ice-open", pinned="running")
    job = Job.objects.create(account=accounts["aliyun_ice"], external_id="ice-open")
    refresh_once()
    page = page_for(operator)
    page.goto(page.url + f"jobs/{job.code}/")
    bar = page.locator(".progress-line progress.indeterminate")
    expect(bar).to_be_visible()
    assert bar.evaluate("el => el.matches(':indeterminate')") is True
    assert bar.evaluate("el => getComputedStyle(el).animationName") == "indeterminate"
    expect(page.locator(".progress-line")).to_contain_text("Running for")
    expect(page.locator(".progress-line")).not_to_contain_text("Not enough progress history")
    screenshot(page, "job-no-progress")
    assert console_errors == []


def test_show_older_events_appends_them_in_place(page_for, viewer, accounts, console_errors):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-history", state="succeeded"
    )
    start = timezone.now() - timedelta(hours=2)
    JobEvent.objects.bulk_create(
        JobEvent(
            job=job,
            at=start + timedelta(seconds=30 * k),
            state="queued",
            queue_position=120 - k,
            note=f"check {k}",
        )
        for k in range(120)
    )
    page = page_for(viewer)
    url = page.url + f"jobs/{job.code}/"
    page.goto(url)
    items = page.locator("ol.timeline > li.event")
    expect(items).to_have_count(50)
    expect(items.first).to_contain_text("check 119")
    page.evaluate("window.__noReload = true")

    page.get_by_role("link", name="Show 70 older events").click()
    expect(items).to_have_count(100)
    expect(items.nth(50)).to_contain_text("check 69")
    page.get_by_role("link", name="Show 20 older events").click()
    expect(items).to_have_count(120)
    expect(items.last).to_contain_text("#120 in queue")
    expect(page.locator("li.older-events")).to_have_count(0)
    assert page.url == url and page.evaluate("window.__noReload") is True
    screenshot(page, "job-older-events")
    assert console_errors == []
