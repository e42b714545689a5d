"""Resubmitting in a real browser: the job page's button, its confirm step, the new job's
page linking back; and the pages at phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import Job
from jobs.providers.base import State
from jobs.services import job_submit
from jobs.simulator.clock import Phase
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
PARAMS = {
    "input_object": "input/promo.mp4",
    "audio_mode": "IsAudio",
    "output_bucket": "out-1250000000",
    "output_region": "ap-guangzhou",
    "voice_object": "output/voice.mp3",
}


def _failed_submission(simulator, account, operator) -> Job:
    job = job_submit(account=account, params=PARAMS, user=operator)
    simulator.jobs[("tencent_ci", job.external_id)].pinned = Phase.FAILED
    Job.objects.filter(pk=job.pk).update(state=State.FAILED, next_poll_at=None)
    return Job.objects.get(pk=job.pk)


def test_the_resubmit_button_leads_to_the_new_job_linked_back(
    page_for, operator, accounts, simulator, live_server, console_errors
):
    first = _failed_submission(simulator, accounts["tencent_ci"], operator)
    page = page_for(operator)
    page.goto(f"{live_server.url}/jobs/{first.code}/")
    page.get_by_role("link", name="Resubmit…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Resubmit")
    expect(page.locator("dl.facts")).to_contain_text("output/voice.mp3")
    screenshot(page, "resubmit-confirm")
    page.get_by_role("button", name="Resubmit the job").click()
    later = Job.objects.get(resubmission_of=first)
    expect(page).to_have_url(f"{live_server.url}/jobs/{later.code}/")
    expect(page.locator("#resubmits")).to_contain_text(f"Resubmission of {first.external_id}")
    expect(page.locator(".timeline")).to_contain_text(f"Resubmission of {first.external_id}")
    page.locator("#resubmits a").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{first.code}/")
    expect(page.locator("#resubmits")).to_contain_text(f"Resubmitted as {later.external_id}")
    expect(page.locator(".actions")).to_contain_text("Cannot resubmit")
    screenshot(page, "resubmit-old-job")
    assert console_errors == []


def test_the_resubmit_pages_fit_a_phone(
    page_for, operator, accounts, simulator, live_server, console_errors
):
    first = _failed_submission(simulator, accounts["tencent_ci"], operator)
    page = page_for(operator, viewport=PHONE)
    for path, name in (
        (f"/jobs/{first.code}/", "job"),
        (f"/jobs/{first.code}/resubmit/", "confirm"),
        (f"/submit/voice-separation/?from={first.code}", "edit"),
    ):
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        screenshot(page, f"resubmit-phone-{name}")
    expect(page.locator("#id_voice_object")).to_have_value("output/voice.mp3")
    page.fill("#id_voice_object", "output/voice-2.mp3")
    page.get_by_role("button", name="Resubmit and track").click()
    later = Job.objects.get(resubmission_of=first)
    expect(page).to_have_url(f"{live_server.url}/jobs/{later.code}/")
    assert later.submit_params["voice_object"] == "output/voice-2.mp3"
    assert console_errors == []
