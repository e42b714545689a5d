"""An operator's actions in a real browser: the timeline's action line, the Audit page,
and a saved view."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import AuditEntry, Job
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_stop_watching_shows_on_the_timeline_and_in_the_audit_page(
    page_for, operator, accounts, simulator, live_server, console_errors
):
    simulator.add_job("tencent_ivh", "ivh-audit-b", pinned="running", pinned_progress=20)
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id="ivh-audit-b",
        name="Evening promo",
        state="running",
    )
    page = page_for(operator)
    page.goto(f"{live_server.url}/jobs/{job.code}/")
    page.get_by_role("button", name="Stop watching").click()
    action = page.locator(".timeline li.kind-action").first
    expect(action).to_contain_text("Stopped watching by olivia")
    page.get_by_role("link", name="Operators' actions on this job").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(1)
    expect(page.locator("table.audit")).to_contain_text("Stopped watching Evening promo")
    assert AuditEntry.objects.get().action == "stop_watching"
    for scheme in ("light", "dark"):
        desk = page_for(operator, color_scheme=scheme)
        desk.goto(f"{live_server.url}/audit/")
        screenshot(desk, f"audit-{scheme}")
    assert console_errors == []


def test_a_saved_view_is_a_link_above_the_tabs(
    page_for, operator, accounts, live_server, console_errors
):
    Job.objects.create(account=accounts["tencent_ci"], external_id="ci-v1", state="failed")
    Job.objects.create(account=accounts["tencent_ci"], external_id="ci-v2", state="running")
    page = page_for(operator)
    page.goto(f"{live_server.url}/?state=failed")
    page.locator("details.save-view summary").click()
    page.fill("#saved-view-name", "Failures")
    page.get_by_role("button", name="Save", exact=True).click()
    link = page.locator('nav[aria-label="Saved views"] a', has_text="Failures")
    expect(link).to_have_attribute("aria-current", "true")
    page.goto(f"{live_server.url}/")
    page.locator('nav[aria-label="Saved views"] a', has_text="Failures").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    screenshot(page, "list-saved-view")
    assert console_errors == []


def test_a_finished_ci_job_shows_its_inputs_and_outputs(
    page_for, operator, accounts, simulator, live_server, console_errors
):
    from jobs.refresh import refresh_once

    simulator.add_job("tencent_ci", "ci-io-browser", pinned="succeeded")
    Job.objects.create(account=accounts["tencent_ci"], external_id="ci-io-browser")
    refresh_once()
    job = Job.objects.get(external_id="ci-io-browser")
    for viewport, scheme in (
        ({"width": 1280, "height": 900}, "light"),
        ({"width": 390, "height": 844}, "dark"),
    ):
        page = page_for(operator, viewport=viewport, color_scheme=scheme)
        page.goto(f"{live_server.url}/jobs/{job.code}/")
        card = page.locator("section.card.io")
        expect(card).to_contain_text("Input object")
        expect(card.locator("a").first).to_have_attribute("rel", "noreferrer noopener")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, f"job-io-{viewport['width']}-{scheme}")
    assert console_errors == []
