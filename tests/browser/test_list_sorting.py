"""The job list's "is / is not", order and page-size controls in a real browser: by keyboard
alone on a desktop, and on a 390 px phone without sideways scrolling.

Screenshots: test-artifacts/list-sorting-<desktop|phone>.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from jobs.models import Account, Job
from tests.browser.conftest import DESKTOP, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _jobs(accounts: dict[str, Account]) -> None:
    for n, (provider, state, progress) in enumerate(
        [
            ("tencent_vod", "running", 80),
            ("tencent_vod", "succeeded", 100),
            ("tencent_ci", "running", 10),
            ("aliyun_ice", "running", 45),
        ]
    ):
        Job.objects.create(
            account=accounts[provider],
            external_id=f"{provider}-{n}",
            name=f"Job {n}",
            state=state,
            progress=progress,
        )


def _names(page: Page) -> list[str]:
    return page.locator("table.job-list td.name > a").all_inner_texts()


def _fits(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{width} px wide in a {inner} px window"


def test_is_not_and_a_sort_by_keyboard(page_for, viewer, accounts, live_server, console_errors):
    _jobs(accounts)
    page = page_for(viewer, viewport=DESKTOP)
    operator = page.get_by_label("Provider: is or is not")
    operator.focus()
    page.keyboard.press("ArrowDown")  # a closed select moves to "is not"
    expect(operator).to_have_value("not")
    page.keyboard.press("Tab")
    expect(page.locator("#id_provider")).to_be_focused()
    page.locator("#id_provider").select_option("tencent_vod")
    page.locator("#id_q").press("Enter")  # a text field's Enter submits the form
    page.wait_for_url("**/?*provider_not=tencent_vod*")
    assert sorted(_names(page)) == ["Job 2", "Job 3"]
    expect(page.get_by_label("Provider: is or is not")).to_have_value("not")
    header = page.get_by_role("link", name="Progress")
    header.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=-progress*")
    assert _names(page) == ["Job 3", "Job 2"]
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Progress")
    page.get_by_role("link", name="Progress").press("Enter")
    page.wait_for_url("**sort=progress*")
    assert _names(page) == ["Job 2", "Job 3"]
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Progress")
    assert "provider_not=tencent_vod" in page.url  # the sort kept the filter
    screenshot(page, "list-sorting-desktop")
    assert console_errors == []


def test_the_controls_fit_a_phone(page_for, viewer, accounts, live_server, console_errors):
    _jobs(accounts)
    page = page_for(viewer, viewport=PHONE)
    page.goto(f"{live_server.url}/?state_not=succeeded")
    _fits(page)
    expect(page.get_by_label("State: is or is not")).to_have_value("not")
    page.get_by_label("Order").select_option("-progress")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**sort=-progress*")
    names = page.locator(".job-list td.name > a").all_inner_texts()
    assert names == ["Job 0", "Job 3", "Job 2"]
    page.get_by_role("link", name="100", exact=True).click()
    page.wait_for_url("**per_page=100*")
    _fits(page)
    screenshot(page, "list-sorting-phone")
    assert console_errors == []
