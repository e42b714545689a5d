"""The public share page in a real browser: it follows the job live, and its downloads carry
safe file names."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Job
from jobs.providers.base import JobStatus, State
from jobs.services import job_apply_status
from jobs.services.sharing import share_create, share_revoke
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SRT = "1\n00:00:00,000 --> 00:00:00,900\nhello world\n"


def _running_status(progress: int, state: State = State.RUNNING) -> JobStatus:
    return JobStatus(
        external_id="ivh-shared-live",
        state=state,
        provider_state="MAKING" if state is State.RUNNING else "SUCCESS",
        progress=progress,
    )


def test_a_shared_running_job_updates_without_a_reload(
    page_for, operator, accounts, live_server, console_errors
):
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id="ivh-shared-live",
        name="Live promo",
        state="running",
        progress=1,
    )
    link, token = share_create(job=job, user=operator)
    page = page_for()  # no session: a link holder
    page.goto(f"{live_server.url}/s/{token}/")
    expect(page.locator(".pct")).to_have_text("1 %")
    page.evaluate("window.__noReload = true")

    job_apply_status(job_id=job.pk, status=_running_status(12), asked_at=timezone.now())
    expect(page.locator(".pct")).to_have_text("12 %", timeout=12_000)
    expect(page.locator("progress")).to_have_attribute("value", "12")

    finished = _running_status(100, State.SUCCEEDED)
    job_apply_status(job_id=job.pk, status=finished, asked_at=timezone.now())
    expect(page.locator(".badge")).to_contain_text("Succeeded", timeout=12_000)
    assert page.evaluate("window.__noReload") is True  # swapped in place, not reloaded
    # 286 stopped the polling: the live region no longer asks.
    expect(page.locator("#job-live")).not_to_have_attribute("data-poll", "4")
    screenshot(page, "share-live")
    link.refresh_from_db()
    assert link.use_count == 1  # polls are not new uses
    assert console_errors == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("\";filename*=UTF-8''evil.html;x=", ".srt"),
        ("视频任务 42", "视频任务 42.srt"),
    ],
)
def test_hostile_names_download_as_srt(
    page_for, viewer, operator, accounts, live_server, console_errors, name, expected
):
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id=name,
        name=name,
        state="succeeded",
        subtitles=SRT,
    )
    _, token = share_create(job=job, user=operator)
    for page, url in (
        (page_for(viewer), f"{live_server.url}/jobs/{job.code}/"),
        (page_for(), f"{live_server.url}/s/{token}/"),
    ):
        page.goto(url)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download SRT").click()
        saved = download.value.suggested_filename
        download.value.path()  # wait until it is saved: closing mid-download can hang chromium
        assert saved.endswith(expected), saved
        assert not saved.endswith(".html")
    assert console_errors == []


def test_an_open_share_page_says_so_when_its_link_is_revoked(
    page_for, operator, accounts, live_server, console_errors
):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-revoked", state="running", progress=5
    )
    link, token = share_create(job=job, user=operator)
    page = page_for()
    page.goto(f"{live_server.url}/s/{token}/")
    expect(page.locator(".pct")).to_have_text("5 %")
    share_revoke(link=link, user=operator)
    expect(page.get_by_role("heading", name="Link not found")).to_be_visible(timeout=12_000)
    assert [e for e in console_errors if "404" not in e] == []
