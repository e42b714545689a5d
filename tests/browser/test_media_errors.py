"""A media link that does not load: the player says so, and why where it can be known."""

from __future__ import annotations

import re
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Job
from jobs.services.sharing import share_create
from tests.browser.conftest import screenshot
from tests.browser.test_pages import wait_until
from tests.views.test_media import closed_port_url, media_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WORDS = [{"text": "hello world", "words": [["hello", 0, 400], ["world", 450, 900]]}]


def _job(account, media_url: str, **fields) -> Job:
    return media_job(account, media_url, words=WORDS, **fields)


def page_errors(console_errors: list[str]) -> list[str]:
    """Console errors other than Chromium's own report of the failed media request."""
    return [e for e in console_errors if not re.match(r"Failed to load resource", e)]


def test_a_missing_file_is_explained_with_the_hosts_answer(
    page_for, viewer, simulator, accounts, live_server, console_errors
):
    job = _job(accounts["tencent_ivh"], f"{simulator.url}/_sim/media/tencent_ivh/gone.wav")
    page = page_for(viewer)
    page.goto(f"{live_server.url}/jobs/{job.code}/")
    error = page.locator("[data-media-error]")
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("The media could not be loaded.")
    expect(page.locator("[data-media-verdict]")).to_contain_text(
        "answers HTTP 404: the file is gone", timeout=10_000
    )
    expect(page.locator("#job-media")).to_be_hidden()  # not a grey 0:00 / 0:00
    expect(error.get_by_role("link", name="Open the media link")).to_be_visible()
    expect(page.locator(".word").first).to_be_visible()  # the timings still work
    screenshot(page, "media-gone")
    assert page_errors(console_errors) == []


def test_a_closed_port_is_called_unreachable(
    page_for, viewer, accounts, live_server, console_errors
):
    job = _job(accounts["tencent_vod"], closed_port_url())
    page = page_for(viewer)
    page.goto(f"{live_server.url}/jobs/{job.code}/")
    expect(page.locator("[data-media-error]")).to_be_visible(timeout=10_000)
    expect(page.locator("[data-media-error]")).to_contain_text("may be unreachable from here")
    expect(page.locator("[data-media-verdict]")).to_contain_text(
        "cannot connect to 127.0.0.1 either", timeout=10_000
    )
    expect(page.locator(".player .sub")).to_contain_text(
        "Tencent VOD documents no expiry for its media links."
    )
    assert page_errors(console_errors) == []


def test_an_expired_link_on_the_share_page_says_it_expired(
    page_for, operator, simulator, accounts, live_server, console_errors
):
    job = _job(
        accounts["tencent_ivh"],
        f"{simulator.url}/_sim/media/tencent_ivh/expired.wav",
        name="Old promo",
        finished_at=timezone.now() - timedelta(days=9),
    )
    _, token = share_create(job=job, user=operator)
    page = page_for()
    page.goto(f"{live_server.url}/s/{token}/")
    expect(page.locator("[data-media-expired]")).to_contain_text(
        "the provider keeps media links for 7 days, and this one was handed out 9 days ago"
    )
    error = page.locator("[data-media-error]")
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("Its link has probably expired")
    assert page.locator("[data-media-verdict]").count() == 0  # link holders trigger no calls
    assert "Tencent" not in page.inner_text("body")
    screenshot(page, "share-media-expired")
    assert page_errors(console_errors) == []


def test_media_that_loads_shows_no_error(
    page_for, viewer, simulator, accounts, live_server, console_errors
):
    simulator.add_job("tencent_ivh", "ivh-playable", pinned="succeeded")
    url = f"{simulator.url}/_sim/media/tencent_ivh/ivh-playable.wav"
    job = _job(accounts["tencent_ivh"], url, external_id="ivh-playable")
    page = page_for(viewer)
    page.goto(f"{live_server.url}/jobs/{job.code}/")
    wait_until(page, "document.querySelector('#job-media').readyState >= 1")
    expect(page.locator("#job-media")).to_be_visible()
    expect(page.locator("[data-media-error]")).to_be_hidden()
    assert console_errors == []


def test_a_host_that_never_answers_is_called_out_while_waiting(
    page_for, viewer, accounts, live_server, console_errors
):
    # Accepts connections and never answers, like a host behind a dropping firewall: the
    # browser neither plays nor fails, for minutes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        host, port = silent.getsockname()
        job = _job(accounts["tencent_ci"], f"http://{host}:{port}/out/voice.wav")
        page = page_for(viewer)
        page.goto(f"{live_server.url}/jobs/{job.code}/")
        slow = page.locator("[data-media-slow]")
        expect(slow).to_be_hidden()
        expect(slow).to_be_visible(timeout=25_000)
        expect(slow).to_have_text(f"Still waiting for {host} to send the media…")
        expect(page.locator("[data-media-error]")).to_be_hidden()
    finally:
        silent.close()
    assert page_errors(console_errors) == []
