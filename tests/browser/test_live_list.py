"""The live job list in a real browser: polls keep focus and scroll, a session that ends
elsewhere sends the page to the login form, phones get one card per job, and Export CSV
downloads what the list shows."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Job, JobEvent
from tests.browser.conftest import screenshot
from tests.browser.test_pages import wait_until
from tests.updates import apply_failure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAILED_RED = "rgb(185, 28, 28)"  # --failed in the light theme


def _jobs(account, count: int) -> list[Job]:
    """`count` running jobs, newest first as the list shows them."""
    now = timezone.now()
    jobs = []
    for n in range(count):
        job = Job.objects.create(
            account=account,
            external_id=f"ivh-{n:03}",
            name=f"Evening news {n}",
            state="running",
            progress=10,
            tracked_at=now - timedelta(seconds=n),
        )
        JobEvent.objects.create(job=job, state="running", progress=10)
        jobs.append(job)
    return jobs


def _count_background(page) -> str:
    return page.evaluate(
        "getComputedStyle(document.querySelector('.tab-failed .count')).backgroundColor"
    )


def test_a_poll_keeps_focus_and_scroll_and_flashes_the_changed_row(
    page_for, operator, accounts, console_errors
):
    jobs = _jobs(accounts["tencent_ivh"], 30)
    page = page_for(operator)
    expect(page.locator("table.jobs tbody tr")).to_have_count(30)
    assert _count_background(page) != FAILED_RED  # no failures: the Failed count is calm

    focused = jobs[11]
    link = page.locator(f"#job-{focused.code} td.name a")
    link.focus()
    page.evaluate("window.scrollTo(0, 420)")
    scroll_before = page.evaluate("window.scrollY")
    assert scroll_before > 300

    changed = jobs[4]
    apply_failure(changed, code="801005", message="text failed review")
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "v=" in r.url else None)

    wait_until(page, f"!!document.querySelector('#job-{changed.code}.flash')", timeout=15)
    expect(page.locator(f"#job-{changed.code}")).to_contain_text("801005")
    assert (
        page.evaluate(
            "document.activeElement.closest('tr') && document.activeElement.closest('tr').id"
        )
        == f"job-{focused.code}"
    )
    assert abs(page.evaluate("window.scrollY") - scroll_before) <= 1
    assert page.locator("tr.flash").count() == 1  # only the row that changed
    assert _count_background(page) == FAILED_RED
    expect(page).to_have_title(re.compile(r"^\(1 failed\) Jobs"))

    # The morphed region polls with its new token: the next unchanged poll is a 204.
    deadline = time.monotonic() + 12
    while 204 not in polls:
        assert time.monotonic() < deadline, f"polls answered {polls}"
        page.wait_for_timeout(200)
    assert page.evaluate("document.activeElement.closest('tr').id") == f"job-{focused.code}"
    screenshot(page, "list-live")
    assert console_errors == []


def test_a_session_ended_in_another_tab_sends_the_list_to_login(
    page_for, operator, accounts, live_server
):
    _jobs(accounts["tencent_ivh"], 3)
    page = page_for(operator)
    page.goto(f"{live_server.url}/?q=news&state=running")
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)

    other = page.context.new_page()
    other.goto(f"{live_server.url}/accounts/")
    other.get_by_role("button", name="Log out").click()
    # Let the logout finish before closing: chromium can hang closing a page mid-navigation.
    other.wait_for_url(re.compile(r"/login/"), timeout=15_000)
    other.close()
    Job.objects.filter(external_id="ivh-000").update(progress=50, version=9)
    JobEvent.objects.create(job=Job.objects.get(external_id="ivh-000"), state="running")

    page.wait_for_url(re.compile(r"/login/\?next="), timeout=15_000)
    assert page.url.endswith("/login/?next=%2F%3Fq%3Dnews%26state%3Drunning")
    expect(page.locator("#id_username")).to_be_visible()
    assert page.locator("#job-live").count() == 0  # not swapped into the old page


def test_on_a_phone_the_list_is_one_card_per_job(page_for, viewer, accounts, console_errors):
    _jobs(accounts["tencent_ivh"], 4)
    Job.objects.create(
        account=accounts["aliyun_ice"],
        external_id="ice-" + "7" * 60,
        state="failed",
        failure_code="InvalidInput.NotExist",
        failure_message="input file missing " * 6,
    )
    page = page_for(viewer)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(5)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.locator("table.jobs thead")).to_be_hidden()
    card = rows.first
    assert card.evaluate("r => getComputedStyle(r).display") == "grid"
    for part in ("td.name a", "td.state .badge", "td.progress-cell", "td.provider", "td.changed"):
        expect(card.locator(part)).to_be_visible()
    expect(card.locator("td.provider")).to_contain_text("Alibaba Cloud ICE")
    account = card.locator("td.provider .sub")
    expect(account).to_have_text("sim-aliyun_ice")
    assert account.evaluate("e => getComputedStyle(e).display") == "inline"  # provider · account
    assert account.evaluate("e => getComputedStyle(e, '::before').content") == '" · "'
    label = card.locator("td.changed").evaluate("e => getComputedStyle(e, '::before').content")
    assert "Last change" in label
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(page, "phone-list")
    assert console_errors == []


def test_export_csv_downloads_what_the_tab_and_filters_show(
    page_for, viewer, accounts, console_errors
):
    _jobs(accounts["tencent_ivh"], 3)
    for n in range(2):
        Job.objects.create(
            account=accounts["tencent_vod"], external_id=f"vod-f{n}", state="failed", name="promo"
        )
    page = page_for(viewer)
    page.click(".tabs a.tab-failed")
    page.fill("#id_q", "vod-f")
    page.click(".filters button.primary")
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    with page.expect_download() as download:
        page.click("text=Export CSV")
    assert re.fullmatch(r"clapboard-jobs-\d{8}T\d{6}Z\.csv", download.value.suggested_filename)
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("code,provider,account,") and len(lines) == 3
    assert [line.split(",")[4] for line in lines[1:]] == ["vod-f1", "vod-f0"]  # newest first
    screenshot(page, "list-export")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("text=Export CSV")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "phone-list-export")
    assert console_errors == []
