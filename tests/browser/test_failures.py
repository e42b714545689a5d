"""The Failures page in a real browser, on a desktop and a phone, in light and dark: the
groups read at a glance, the window is a link, and a group's count leads to the job list
showing exactly the jobs it counted.

Screenshots: test-artifacts/failures-<desktop|phone>-<light|dark>.png and
failures-list-<desktop|phone>.png (the list a group's link opened).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from jobs.models import Account, Job
from tests.browser.conftest import DESKTOP, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG_CODE = "FailedOperation.MediaProcessTaskOutputFileWriteFailed"
LONG_MESSAGE = (
    "could not write https://bucket-ap-guangzhou-1250000000.cos.example.com/outputs/"
    + "segment-000000000000000000000001/" * 4
    + ": AccessDenied"
)


def _failures(accounts: dict[str, Account]) -> None:
    now = timezone.now()
    rows = [
        ("tencent_vod", "InvalidInput", "Definition 10 does not exist", 4),
        ("tencent_vod", LONG_CODE, LONG_MESSAGE, 2),
        ("tencent_ivh", "801005", "text failed review", 3),
        ("huawei_metastudio", "", "no code given", 1),
    ]
    for provider, code, message, count in rows:
        for n in range(count):
            Job.objects.create(
                account=accounts[provider],
                external_id=f"{provider}-{code or 'none'}-{n}",
                name=f"Evening news {provider} {n}",
                state="failed",
                failure_code=code,
                failure_message=message,
                finished_at=now - timedelta(minutes=5 + 20 * n),
                next_poll_at=None,
            )
    # Outside the default window, and not a failure: neither is counted.
    Job.objects.create(
        account=accounts["tencent_vod"],
        external_id="vod-old",
        state="failed",
        failure_code="InvalidInput",
        finished_at=now - timedelta(days=3),
        next_poll_at=None,
    )
    Job.objects.create(
        account=accounts["tencent_vod"], external_id="vod-ok", state="succeeded", finished_at=now
    )


def _fits(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{width} px wide in a {inner} px window"


@pytest.mark.parametrize(("device", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_a_groups_link_lands_on_the_filtered_list(
    device, viewport, page_for, viewer, accounts, live_server, console_errors
):
    _failures(accounts)
    for scheme in ("dark", "light"):
        page = page_for(viewer, viewport=viewport, color_scheme=scheme)
        nav = page.get_by_role("navigation", name="Main")
        if device == "phone":
            page.get_by_text("Menu", exact=True).click()
        nav.get_by_role("link", name="Failures", exact=True).click()
        page.wait_for_url(f"{live_server.url}/failures/")
        groups = page.locator("tr.failure-group")
        expect(groups).to_have_count(4)
        expect(page.locator(".tabs.windows [aria-current=page]")).to_have_text("24 hours")
        expect(page.locator(".window-says")).to_contain_text("10 failed jobs in 4 groups")
        expect(page.get_by_text("Invalid task parameters")).to_be_visible()  # the catalogue's
        _fits(page)
        screenshot(page, f"failures-{device}-{scheme}")
    assert page.locator(".window-says time").first.get_attribute("title").endswith(" UTC")

    group = groups.filter(has_text="801005")
    expect(group.locator("td.count")).to_contain_text("3")
    group.locator("a.group-link").click()
    page.wait_for_url(re.compile(r"/\?.*failure_code=801005"))
    assert all(
        part in page.url
        for part in ("state=failed", "provider=tencent_ivh", "finished_from=", "finished_to=")
    )
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)
    expect(page.locator(".tab-failed .count")).to_have_text("3")
    expect(page.locator("input[name=failure_code]")).to_have_value("801005")
    expect(page.locator("input[name=finished_from]")).not_to_have_value("")
    _fits(page)
    screenshot(page, f"failures-list-{device}")

    # Filtering the list again keeps the window the group counted.
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)

    page.go_back()
    page.go_back()
    page.wait_for_url(f"{live_server.url}/failures/")
    page.get_by_role("link", name="7 days").click()
    expect(page.locator(".window-says")).to_contain_text("11 failed jobs")
    expect(page.locator(".tabs.windows [aria-current=page]")).to_have_text("7 days")
    assert console_errors == []
