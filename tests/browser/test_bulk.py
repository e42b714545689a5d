"""Bulk actions in a real browser: select rows (click, shift-click, keyboard, the page,
all matching), keep the selection through the list's live poll, run a refresh and watch
its progress reach done, export the selection as CSV; screenshots of the list with a
selection on desktop and phone."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import F
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import BulkAction, Job, JobEvent
from jobs.refresh import refresh_once
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _jobs(simulator, account, count: int) -> list[Job]:
    now = timezone.now()
    jobs = []
    for n in range(count):
        simulator.add_job("tencent_ivh", f"ivh-{n:03}", pinned="succeeded")
        job = Job.objects.create(
            account=account,
            external_id=f"ivh-{n:03}",
            name=f"Evening news {n}",
            state="running",
            progress=40,
            tracked_at=now - timedelta(seconds=n),
            next_poll_at=now + timedelta(minutes=10),
        )
        JobEvent.objects.create(job=job, state="running", progress=40)
        jobs.append(job)
    return jobs


def _checked(page) -> int:
    return page.locator("input[data-bulk-row]:checked").count()


def test_select_rows_keep_them_through_a_poll_and_refresh_them(
    page_for, simulator, accounts, operator, console_errors
):
    jobs = _jobs(simulator, accounts["tencent_ivh"], 8)
    page = page_for(operator)
    bar = page.locator("#bulk-form")
    expect(bar).to_be_hidden()  # nothing selected yet

    boxes = page.locator("input[data-bulk-row]")
    boxes.nth(1).click()
    boxes.nth(4).click(modifiers=["Shift"])  # rows 1 to 4
    expect(page.locator("[data-bulk-count]")).to_have_text("4 jobs selected")
    assert _checked(page) == 4 and not boxes.nth(0).is_checked()
    expect(bar).to_be_visible()
    expect(page.locator("[data-bulk-all-label]")).to_be_hidden()  # the page is not all selected
    boxes.nth(6).focus()
    page.keyboard.press("Space")
    expect(page.locator("[data-bulk-count]")).to_have_text("5 jobs selected")

    # A change the poll brings in: the rows are morphed, the boxes keep their ticks.
    changed = jobs[2]
    JobEvent.objects.create(job=changed, state="running", progress=70)
    Job.objects.filter(pk=changed.pk).update(progress=70, version=F("version") + 1)
    page.evaluate("htmx.trigger('#job-live', 'poll')")
    expect(page.locator(f"#job-{changed.code} .pct")).to_have_text("70 %")
    assert _checked(page) == 5
    expect(page.locator("[data-bulk-count]")).to_have_text("5 jobs selected")

    page.locator("input[data-bulk-page]").click()
    assert _checked(page) == 8
    all_matching = page.locator("[data-bulk-all-label]")
    expect(all_matching).to_have_text("Select all 8 jobs matching this filter")
    page.locator("input[data-bulk-all]").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("All 8 matching jobs selected")
    screenshot(page, "bulk-list-desktop-light")

    page.locator("#bulk-form button[value=refresh]").click()
    page.wait_for_url("**/bulk/*/")
    bulk = BulkAction.objects.get()
    assert bulk.total == 8 and bulk.state == "waiting"
    expect(page.locator(".bulk-state .badge")).to_have_text("Waiting for the refresh engine")
    refresh_once(account_names=[accounts["tencent_ivh"].name])
    # The page polls every 2 s until the refresh engine has polled them all.
    expect(page.locator(".bulk-summary")).to_contain_text(
        "8 of 8 settled: 8 refreshed", timeout=8000
    )
    expect(page.locator("#bulk-progress")).not_to_have_attribute("data-poll", "2")
    screenshot(page, "bulk-progress-done")
    assert not console_errors


@pytest.mark.parametrize(
    "viewport, scheme",
    [(None, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["desktop-dark", "phone-light", "phone-dark"],
)
def test_the_list_with_a_selection_fits_desktop_and_phone(
    page_for, simulator, accounts, operator, console_errors, viewport, scheme
):
    _jobs(simulator, accounts["tencent_ivh"], 6)
    kwargs = {"viewport": viewport} if viewport else {}
    page = page_for(operator, color_scheme=scheme, **kwargs)
    boxes = page.locator("input[data-bulk-row]")
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])
    expect(page.locator("[data-bulk-count]")).to_have_text("3 jobs selected")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"bulk-list-{'phone' if viewport else 'desktop'}-{scheme}")
    assert not console_errors


def test_export_csv_downloads_the_ticked_rows_then_all_matching(
    page_for, simulator, accounts, operator, console_errors
):
    jobs = _jobs(simulator, accounts["tencent_ivh"], 6)
    page = page_for(operator)
    boxes = page.locator("input[data-bulk-row]")
    boxes.nth(0).click()
    boxes.nth(3).click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert [row["external_id"] for row in rows] == [jobs[0].external_id, jobs[3].external_id]
    expect(page.locator("[data-bulk-count]")).to_have_text("2 jobs selected")  # still here

    page.locator("input[data-bulk-page]").click()
    page.locator("input[data-bulk-all]").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert len(list(csv.DictReader(text.splitlines()))) == 6
    assert console_errors == []
