"""Real headless Chromium (Debian's package) driven by Playwright against a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from jobs.models import Account, Job
from jobs.refresh import refresh_once

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make from here are still plain synchronous ones.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page_for(chromium, live_server, console_errors):
    """page_for(user, viewport=..., color_scheme=...) → a page on the live server, logged in
    through the real login form when a user is given; 1280×900 in light unless told.

    Uncaught page errors land in `console_errors`, and so do console errors unless
    `console=False` (for visits that fetch a 4xx page by design: the browser logs each)."""
    contexts = []

    def open_page(
        user=None,
        password=None,
        *,
        viewport=DESKTOP,
        color_scheme: str = "light",
        console: bool = True,
    ) -> Page:
        context = chromium.new_context(viewport=viewport, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        if console:
            page.on(
                "console",
                lambda m: console_errors.append(m.text) if m.type == "error" else None,
            )
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        if user is not None:
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", user.username)
            page.fill("#id_password", password or f"pw-{user.username}")
            page.click("button[type=submit]")
            page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_page
    for context in contexts:
        context.close()


def finished_ivh_job(simulator, account: Account, external_id: str) -> Job:
    """A job the simulator's Tencent IVH has finished, refreshed once: real words and media."""
    simulator.add_job("tencent_ivh", external_id, pinned="succeeded")
    Job.objects.create(account=account, external_id=external_id, state="unknown")
    refresh_once()
    return Job.objects.get(external_id=external_id)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
