"""The job page tells the truth: stale data says so within one poll, "Refresh now" shows
its outcome, the timeline is live and folded, observed times and providers without
progress (issue 11, items 1, 2, 15, 17, 18)."""

from __future__ import annotations

import re
import socket
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, Job, JobEvent
from jobs.providers.base import JobStatus, State
from jobs.refresh import refresh_once
from jobs.services import job_apply_status

pytestmark = pytest.mark.django_db(transaction=True)  # the refresh engine's threads


def _poll(client, job: Job, live_url: str):
    return client.get(reverse("job-detail", args=[job.code]) + live_url, HTTP_HX_REQUEST="true")


def _running_job(simulator, account, external_id: str, progress: int = 40) -> Job:
    """A running job the engine has polled (twice, so it has an ETA)."""
    sim_job = simulator.add_job(
        account.provider, external_id, pinned="running", pinned_progress=progress - 20
    )
    job = Job.objects.create(account=account, external_id=external_id)
    # Past DETAIL_MAX_AGE, so a listing provider asks for the detail again.
    with time_machine.travel(timezone.now() - timedelta(seconds=70)):
        Job.objects.filter(pk=job.pk).update(tracked_at=timezone.now())
        refresh_once()
    sim_job.pinned_progress = progress
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()
    job.refresh_from_db()
    assert job.state == "running" and job.progress == progress
    return job


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_an_open_page_learns_within_one_poll_that_the_signature_is_rejected(
    viewer_client, simulator, accounts
):
    job = _running_job(simulator, accounts["tencent_vod"], "vod-stale")
    page = viewer_client.get(reverse("job-detail", args=[job.code]))
    assert "Not current" not in page.content.decode()
    live_url = page.context["live_url"]
    assert _poll(viewer_client, job, live_url).status_code == 204

    simulator.inject("bad_signature", "tencent_vod")
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()
    assert Job.objects.get(pk=job.pk).version == job.version  # nothing about the job changed

    poll = _poll(viewer_client, job, live_url)
    assert poll.status_code == 200
    html = poll.content.decode()
    text = _text(html)
    assert "Not current" in text and "is paused until" in text
    assert "failed check" in text
    account = Account.objects.get(pk=job.account_id)
    assert account.last_error and account.last_error in text  # the provider's reason
    assert f'href="{reverse("account-health")}"' in html
    assert "Finishes in about" not in text and "No estimate while the data is not current" in text
    assert (
        "(when the account's pause ends)" in text
    )  # the next check waits for the pause, it is not "ago"
    assert "is-stale" in html


def test_an_unreachable_provider_shows_failed_checks_and_an_overdue_next_check(
    viewer_client, simulator, accounts
):
    account = accounts["tencent_ivh"]
    job = _running_job(simulator, account, "ivh-unreachable")
    live_url = viewer_client.get(reverse("job-detail", args=[job.code])).context["live_url"]
    Account.objects.filter(pk=account.pk).update(endpoint=f"http://127.0.0.1:{_closed_port()}")
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()

    text = _text(_poll(viewer_client, job, live_url).content.decode())
    assert "Not current" in text and "1 failed check in a row" in text
    stored = Job.objects.get(pk=job.pk)
    assert stored.last_poll_error in text

    # Nobody checks it (no cluster): once its next check is well past, the page says so.
    with time_machine.travel(stored.next_poll_at + timedelta(minutes=2)):
        text = _text(_poll(viewer_client, job, live_url).content.decode())
    assert "overdue since" in text and "checks failing" in text


def test_an_overdue_check_appears_by_itself_and_never_reads_as_ago(viewer_client, accounts):
    now = timezone.now()
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id="ivh-overdue",
        state="running",
        progress=50,
        last_polled_at=now,
        next_poll_at=now + timedelta(seconds=10),
    )
    page = viewer_client.get(reverse("job-detail", args=[job.code]))
    html = page.content.decode()
    assert "Not current" not in html
    assert re.search(r'<dd id="next-check"><time [^>]*data-relative data-due', html)
    with time_machine.travel(now + timedelta(seconds=70)):
        poll = _poll(viewer_client, job, page.context["live_url"])
    assert poll.status_code == 200  # the time passing alone changes the answer
    text = _text(poll.content.decode())
    assert "overdue since" in text and "Is the task cluster running?" in text
    assert "No estimate while the data is not current" in text


def test_refresh_now_shows_its_outcome_errors_included(operator_client, simulator, accounts):
    account = accounts["tencent_ivh"]
    job = _running_job(simulator, account, "ivh-refresh")
    detail = reverse("job-detail", args=[job.code])
    live_url = operator_client.get(detail).context["live_url"]
    token = operator_client.cookies["csrftoken"].value

    simulator.inject("http_500", "tencent_ivh")
    response = operator_client.post(
        reverse("job-refresh", args=[job.code]), HTTP_X_CSRFTOKEN=token, follow=True
    )
    outcome = re.search(r'id="refresh-outcome"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    assert outcome and "Refresh failed:" in _text(outcome.group(1))
    assert Job.objects.get(pk=job.pk).last_poll_error in _text(outcome.group(1))
    # A page that was already open gets it with its next poll.
    assert "Refresh failed:" in _text(_poll(operator_client, job, live_url).content.decode())

    simulator.clear_faults()
    html = operator_client.post(
        reverse("job-refresh", args=[job.code]), HTTP_X_CSRFTOKEN=token, follow=True
    ).content.decode()
    assert "Refreshed: no change." in _text(html)

    simulator.inject("bad_signature", "tencent_ivh")
    operator_client.post(reverse("job-refresh", args=[job.code]), HTTP_X_CSRFTOKEN=token)
    html = operator_client.post(
        reverse("job-refresh", args=[job.code]), HTTP_X_CSRFTOKEN=token, follow=True
    ).content.decode()
    text = _text(re.search(r'id="refresh-outcome"[^>]*>(.*?)</p>', html, re.S).group(1))
    assert "Refresh not sent: the account is paused until" in text


def test_one_poll_updates_the_timeline_too(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-timeline", state="unknown"
    )
    now = timezone.now()
    queued = JobStatus(
        external_id="ivh-timeline", state=State.QUEUED, provider_state="QUEUING", queue_position=2
    )
    job_apply_status(job_id=job.pk, status=queued, asked_at=now, now=now)
    live_url = viewer_client.get(reverse("job-detail", args=[job.code])).context["live_url"]

    running = JobStatus(
        external_id="ivh-timeline", state=State.RUNNING, provider_state="PROCESSING", progress=21
    )
    later = now + timedelta(seconds=5)
    job_apply_status(job_id=job.pk, status=running, asked_at=later, now=later)
    html = _poll(viewer_client, job, live_url).content.decode()
    history = re.search(r'<div id="job-history" hx-swap-oob="true">(.*?)</ol>', html, re.S)
    assert history, "the poll answer carries the timeline as an out-of-band swap"
    entries = re.findall(r'<li class="event[^"]*">(.*?)</li>', history.group(1), re.S)
    assert "Running" in _text(entries[0]) and "21 %" in _text(entries[0])
    assert 'id="job-failure" hx-swap-oob="true"' in html
    assert 'id="job-media"' not in html  # the player is never part of a poll


def test_progress_ticks_fold_into_one_entry_that_expands(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-ticks", state="running", progress=62
    )
    start = timezone.now() - timedelta(minutes=5)
    JobEvent.objects.create(job=job, at=start, state="queued", queue_position=1)
    for n, progress in enumerate((10, 20, 31, 40, 55, 62), 1):
        JobEvent.objects.create(
            job=job, at=start + timedelta(seconds=10 * n), state="running", progress=progress
        )
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    timeline = html[html.index('<ol class="timeline">') :]
    assert re.search(r"<details id=\"ticks-\d+\">\s*<summary", timeline)
    assert "Running 10 → 62 %, 6 updates" in _text(timeline)
    assert _text(timeline).count("in queue") == 1  # the queued entry stays its own
    assert len(re.findall(r'<ol class="ticks">.*?</ol>', timeline, re.S)) == 1
    assert (
        _text(re.search(r'<ol class="ticks">(.*?)</ol>', timeline, re.S).group(1)).count("%") == 6
    )


def test_observed_times_stand_in_for_times_the_provider_does_not_give(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-times", state="succeeded", progress=100
    )
    start = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(tracked_at=start)
    seen = {
        "queued": start + timedelta(seconds=5),
        "running": start + timedelta(seconds=65),
        "succeeded": start + timedelta(seconds=185),
    }
    for state, at in seen.items():
        JobEvent.objects.create(job=job, at=at, state=state)
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    facts = html[html.index('<dl class="facts">') : html.index("</dl>")]

    def fact(name: str) -> str:
        return re.search(rf"<dt>{name}</dt><dd>(.*?)</dd>", facts, re.S).group(1)

    assert "≈" in fact("Created") and "first seen" in fact("Created")
    assert start.isoformat() in fact("Created")
    assert "first seen running" in fact("Started") and seen["running"].isoformat() in fact(
        "Started"
    )
    assert "first seen finished" in fact("Finished")
    assert seen["succeeded"].isoformat() in fact("Finished")

    # A time the provider gives is shown as it is, unmarked.
    given = start + timedelta(seconds=60)
    Job.objects.filter(pk=job.pk).update(started_at=given)
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    started = re.search(r"<dt>Started</dt><dd>(.*?)</dd>", html, re.S).group(1)
    assert "≈" not in started and given.isoformat() in started


def test_a_provider_without_progress_gets_an_indeterminate_bar_and_a_typical_run(
    viewer_client, accounts
):
    account = accounts["aliyun_ice"]
    now = timezone.now()
    job = Job.objects.create(
        account=account,
        external_id="ice-running",
        kind="ProduceMedia",
        state="running",
        started_at=now - timedelta(minutes=3),
    )
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    line = _text(html[html.index('<div class="progress-line') : html.index('<dl class="facts">')])
    assert '<progress class="indeterminate"' in html
    assert "Not enough progress history yet" not in line
    assert "Running for 3 min" in line and "usually" not in line  # no history yet

    for n, minutes in enumerate((2, 3, 3, 4, 4, 2)):
        finished = now - timedelta(hours=1, minutes=10 * n)
        Job.objects.create(
            account=account,
            external_id=f"ice-done-{n}",
            kind="ProduceMedia",
            state="succeeded",
            started_at=finished - timedelta(minutes=minutes),
            finished_at=finished,
        )
    Job.objects.create(  # another kind does not count
        account=account,
        external_id="ice-other",
        kind="Other",
        state="succeeded",
        started_at=now - timedelta(hours=3),
        finished_at=now - timedelta(hours=1),
    )
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    line = _text(html[html.index('<div class="progress-line') : html.index('<dl class="facts">')])
    assert "usually 2–4 min" in line


def test_a_disabled_account_or_a_job_nobody_watches_is_not_current(viewer_client, accounts):
    account = accounts["tencent_ivh"]
    now = timezone.now()
    job = Job.objects.create(
        account=account, external_id="ivh-off", state="running", progress=30, last_polled_at=now
    )
    Account.objects.filter(pk=account.pk).update(enabled=False)
    text = _text(viewer_client.get(reverse("job-detail", args=[job.code])).content.decode())
    assert "Not current" in text and "is disabled" in text
    Account.objects.filter(pk=account.pk).update(enabled=True)
    Job.objects.filter(pk=job.pk).update(next_poll_at=None, stopped_reason="Stopped by ada")
    text = _text(viewer_client.get(reverse("job-detail", args=[job.code])).content.decode())
    assert "Clapboard no longer checks this job (Stopped by ada)" in text
    assert "not scheduled" in text
    # A finished job's data is final, however its account is doing.
    Job.objects.filter(pk=job.pk).update(state="succeeded", progress=100)
    Account.objects.filter(pk=account.pk).update(
        consecutive_failures=3, last_error="boom", last_error_at=now + timedelta(seconds=1)
    )
    assert (
        "Not current"
        not in viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    )
