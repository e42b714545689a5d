"""The Track page in a real browser: errors in place, a working button, live progress."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from jobs.refresh import refresh_once
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_empty_paste_marks_the_fields_and_focuses_the_first(
    page_for, live_server, operator, accounts, console_errors
):
    page = page_for(operator)
    page.goto(f"{live_server.url}/track/")
    page.click("#track-submit")
    expect(page.locator("#account-error")).to_have_text(
        "Choose the account the task IDs belong to."
    )
    expect(page.locator("#task-ids-error")).to_have_text("Paste at least one task ID.")
    assert page.evaluate("document.activeElement.id") == "id_account"
    assert console_errors == []


def test_a_paste_shows_progress_with_the_button_disabled_then_a_summary(
    page_for, live_server, operator, simulator, accounts, console_errors
):
    account = accounts["tencent_ivh"]  # one request per ID at 10/s: a few seconds of work
    ids = [f"ivh-{n}" for n in range(40)]
    for external_id in ids:
        simulator.add_job("tencent_ivh", external_id, pinned="running")
    page = page_for(operator)
    page.goto(f"{live_server.url}/track/")
    page.select_option("#id_account", str(account.code))
    page.fill("#id_task_ids", "\n".join(ids + ["ivh-missing"]))
    page.click("#track-submit")

    page.wait_for_url("**/track/?batch=*")
    button = page.locator("#track-submit")
    expect(button).to_be_disabled()
    expect(button).to_have_text("Checking…")
    expect(page.locator("#track-progress")).to_contain_text("Checked 0 of 41")
    screenshot(page, "track-waiting")

    poller = threading.Thread(target=refresh_once, kwargs={"account_names": [account.name]})
    poller.start()
    try:
        # The panel moves on by itself while the IDs are checked, the button still off.
        expect(page.locator("#track-progress")).not_to_contain_text("Checked 0 of", timeout=10_000)
        if page.locator("#track-progress").count():
            expect(button).to_be_disabled()
            screenshot(page, "track-progress")
        summary = page.locator("#track-summary")
        expect(summary).to_contain_text("40 tracked, 1 not found", timeout=20_000)
    finally:
        poller.join()
    expect(button).to_be_enabled()
    expect(button).to_have_text("Track")
    rows = page.locator("table.results tbody tr code")
    expect(rows.first).to_have_text("ivh-0")
    expect(rows.last).to_have_text("ivh-missing")  # paste order
    screenshot(page, "track-summary")
    assert console_errors == []
