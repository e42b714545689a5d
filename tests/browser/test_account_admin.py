"""The account admin in a real browser: the two-step add and the Test connection button
work under the site's CSP (no inline styles or scripts), and say what happened."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import Account
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _admin_page(page_for, live_server, user):
    page = page_for()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    page.click("input[type=submit]")
    return page


def test_add_in_two_steps_then_test_the_connection(
    page_for, live_server, staff_admin, simulator, console_errors
):
    page = _admin_page(page_for, live_server, staff_admin)
    page.goto(f"{live_server.url}/admin/jobs/account/add/")
    expect(page.locator(".errornote")).to_have_count(0)
    screenshot(page, "admin-add-account-step-1")
    page.click("text=Tencent VOD")
    expect(page.locator("h2", has_text="Step 2 of 2")).to_be_visible()
    expect(page.locator(".errornote")).to_have_count(0)
    sim = simulator.providers["tencent_vod"]
    page.fill("#id_name", "browser-vod")
    page.fill("#id_endpoint", simulator.url)
    page.fill("#id_credential__secret_id", sim.demo_credentials["secret_id"])
    page.fill("#id_credential__secret_key", sim.demo_credentials["secret_key"])
    screenshot(page, "admin-add-account-step-2")
    page.click("input[name=_continue]")
    button = page.locator("form.test-connection button")
    expect(button).to_be_visible()
    button.click()
    expect(page.locator(".messagelist")).to_contain_text("connection OK")
    screenshot(page, "admin-account-test-connection")
    assert Account.objects.get(name="browser-vod").last_ok_at is not None
    # The admin's pages ask for /favicon.ico, which the site does not serve: not ours.
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
