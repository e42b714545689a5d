"""A job with thousands of words and events: its page stays small and cheap (the words as one
JSON payload, the newest page of events, older pages on request), and shows the same facts."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.jobs.history import EVENTS_PAGE, QUEUE_SHOWN
from jobs.models import Job, JobEvent

pytestmark = pytest.mark.django_db

MAX_HTML = 150_000  # bytes before gzip (issue 14)


def big_words(count: int = 2000, per_sentence: int = 40) -> list[dict]:
    words = [[f"word{n}", n * 300, n * 300 + 250] for n in range(count)]
    return [
        {
            "text": " ".join(w[0] for w in words[i : i + per_sentence]) + ".",
            "words": words[i : i + per_sentence],
        }
        for i in range(0, count, per_sentence)
    ]


def big_job(accounts, *, events: int = 1000, state: str = "succeeded", **fields) -> Job:
    """Like bench/pages_world.py's special job: queued, then running ticks, then done."""
    start = timezone.now() - timedelta(days=2)
    words = big_words()
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id=f"ivh-big-{events}-{state}",
        state=state,
        progress=100 if state == "succeeded" else 50,
        words=words,
        duration_ms=words[-1]["words"][-1][2],
        media_url="https://media.example.com/big.mp4",
        raw={"TaskId": "big", "Words": [{"Word": w[0], "Start": w[1]} for w in words[0]["words"]]},
        **fields,
    )
    JobEvent.objects.bulk_create(
        JobEvent(
            job=job,
            at=start + timedelta(seconds=72 * k),
            state="queued" if k < events // 10 else "running" if k < events - 1 else state,
            progress=(k * 100 // events) if events // 10 <= k < events - 1 else None,
            queue_position=events // 10 - k if k < events // 10 else None,
            note=f"note {k}" if k % 97 == 0 else "",
        )
        for k in range(events)
    )
    return job


def payload(html: str) -> list:
    found = re.findall(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def timeline_items(html: str) -> list[str]:
    """The top-level entries of the timeline's <ol> (a run's ticks are inside one)."""
    return re.findall(r'<li class="event[^"]*">', html)


def events_shown(fragment: str) -> int:
    """How many events timeline items show: one per plain entry, one per tick of a run."""
    plain = re.findall(r'<li class="event (?!ticks)', fragment)
    ticks = re.findall(r"<li><time ", fragment)
    return len(plain) + len(ticks)


def timeline_of(html: str) -> str:
    return html[html.index('<ol class="timeline">') :].split("</section>")[0]


def older_link(html: str) -> str | None:
    match = re.search(r'<li class="older-events"><a href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_a_big_job_page_is_small_and_carries_every_word_as_json(viewer_client, accounts):
    job = big_job(accounts)
    response = viewer_client.get(reverse("job-detail", args=[job.code]))
    html = response.content.decode()
    assert response.status_code == 200
    assert len(response.content) < MAX_HTML
    sentences = payload(html)
    assert sum(len(s) for s in sentences) == 2000
    assert sentences[0][0] == ["word0", 0, 250] and sentences[-1][-1] == [
        "word1999",
        599700,
        599950,
    ]
    assert html.count("data-start") < 200  # the words and bars are built by player.js
    assert html.count('class="word"') == 0 and html.count('class="bar"') == 0
    # Without JavaScript, the sentences still read as text.
    assert html.count('<p class="sentence">') == 50
    assert "word0 word1 word2" in html


def test_only_the_newest_events_are_shown_and_older_pages_lead_to_the_first(
    viewer_client, accounts
):
    job = big_job(accounts)
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    newest = list(job.events.order_by("-at", "-id")[:EVENTS_PAGE])
    assert events_shown(timeline_of(html)) == EVENTS_PAGE
    assert f"Show {1000 - EVENTS_PAGE} older events" in html
    link = older_link(html)
    assert link == reverse("job-events", args=[job.code]) + f"?before={newest[-1].pk}"
    assert 'hx-get="' + link + '"' in html.replace("&amp;", "&")

    seen, pages = EVENTS_PAGE, 0
    while link:
        part = viewer_client.get(link, HTTP_HX_REQUEST="true")
        assert part.status_code == 200
        body = part.content.decode()
        assert "<html" not in body  # the htmx partial: items to append
        seen += events_shown(body)
        link, pages = older_link(body), pages + 1
        if link:
            assert f"Show {1000 - seen} older event" in body
    assert seen == 1000 and pages == 1000 // EVENTS_PAGE - 1
    first = job.events.order_by("at", "id").first()
    assert "#100 in queue" in body and first.queue_position == 100

    # Without JavaScript, the same link is a page of its own with the next link.
    full = viewer_client.get(reverse("job-events", args=[job.code]) + f"?before={newest[-1].pk}")
    assert full.status_code == 200 and "<html" in full.content.decode()
    assert older_link(full.content.decode()) is not None


def test_a_run_of_ticks_cut_by_the_page_is_shown_on_both_pages(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ticks", state="running", progress=99
    )
    start = timezone.now() - timedelta(hours=1)
    JobEvent.objects.bulk_create(
        JobEvent(job=job, state="running", progress=n // 2, at=start + timedelta(seconds=n))
        for n in range(200)
    )
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    # The newest 50 events are the last 50 ticks of one run: one entry, 50 updates.
    timeline = timeline_of(html)
    assert "Running 75 → 99 %, 50 updates" in timeline and len(timeline_items(timeline)) == 1
    older = viewer_client.get(older_link(html), HTTP_HX_REQUEST="true").content.decode()
    assert "Running 50 → 74 %, 50 updates" in older


def test_the_facts_of_the_whole_history_are_unchanged(viewer_client, accounts):
    # Times the provider did not give come from the first events that showed them, even
    # when those are many pages back.
    job = big_job(accounts)
    first_running = job.events.filter(state="running").order_by("at").first().at
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert first_running.isoformat() in html and "first seen running" in html
    assert "first seen finished" in html
    # Refresh now, long ago and recently.
    JobEvent.objects.create(
        job=job,
        kind="refresh",
        state="succeeded",
        note="Refresh sent: old news",
        at=timezone.now() - timedelta(hours=1),
    )
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert "old news" not in html.split("<h2>Timeline</h2>")[0]
    JobEvent.objects.create(job=job, kind="refresh", state="succeeded", note="Refresh sent: fresh")
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert 'id="refresh-outcome"' in html and "Refresh sent: fresh" in html


def test_the_estimate_comes_from_the_first_and_last_points_of_the_history(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="eta-big", state="running", progress=50
    )
    now = timezone.now()
    JobEvent.objects.create(job=job, state="running", progress=10, at=now - timedelta(seconds=80))
    JobEvent.objects.bulk_create(
        JobEvent(job=job, state="running", at=now - timedelta(seconds=79 - n), note=f"n{n}")
        for n in range(300)  # no progress: not points of the rate
    )
    JobEvent.objects.create(job=job, state="running", progress=50, at=now)
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert "Finishes in about 2 min" in html

    queued = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="eta-queue", state="queued", queue_position=5
    )
    JobEvent.objects.bulk_create(
        JobEvent(
            job=queued, state="queued", queue_position=100 - n, at=now - timedelta(seconds=95 - n)
        )
        for n in range(96)
    )
    html = viewer_client.get(reverse("job-detail", args=[queued.code])).content.decode()
    assert "Starts in about 5 s" in html
    # The queue card shows the newest positions and says how many there are in all.
    card = html[html.index("<h2>Queue position</h2>") : html.index("<h2>Timeline</h2>")]
    assert card.count('<span class="num">') == QUEUE_SHOWN
    assert f"The latest {QUEUE_SHOWN} of 96 positions" in card
    assert "#5</span>" in card and "#100</span>" not in card


def test_query_count_does_not_grow_with_events(viewer_client, accounts):
    def cost(job: Job) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer_client.get(reverse("job-detail", args=[job.code])).status_code == 200
        return len(captured)

    small, large = big_job(accounts, events=60), big_job(accounts, events=1000)
    assert cost(small) == cost(large)
    before = large.events.order_by("-at", "-id")[EVENTS_PAGE + 3]
    older = reverse("job-events", args=[large.code]) + f"?before={before.pk}"
    with CaptureQueriesContext(connection) as captured:
        viewer_client.get(older, HTTP_HX_REQUEST="true")
    # Session, user, two permission lookups, the job, the cursor's event, the page, its count.
    assert len(captured) <= 8
    event_reads = [q["sql"] for q in captured.captured_queries if "jobs_jobevent" in q["sql"]]
    assert all("LIMIT" in sql or "COUNT(" in sql for sql in event_reads)


def test_a_poll_shows_the_newest_events_and_a_correct_older_control(viewer_client, accounts):
    job = big_job(accounts, events=120, state="running")
    url = reverse("job-detail", args=[job.code])
    live = viewer_client.get(url).context["live_url"]
    JobEvent.objects.create(job=job, state="running", progress=99, note="almost there")
    Job.objects.filter(pk=job.pk).update(version=job.version + 1, progress=99)
    poll = viewer_client.get(url + live, HTTP_HX_REQUEST="true").content.decode()
    history = poll[poll.index('<div id="job-history" hx-swap-oob="true">') :]
    assert "almost there" in history
    assert f"Show {121 - EVENTS_PAGE} older events" in history
    newest = list(job.events.order_by("-at", "-id")[:EVENTS_PAGE])
    assert older_link(history).endswith(f"?before={newest[-1].pk}")


def test_older_events_need_the_permission_of_the_page(
    viewer_client, outsider_client, client, accounts
):
    job = big_job(accounts, events=60)
    event = job.events.order_by("-at").first()
    url = reverse("job-events", args=[job.code]) + f"?before={event.pk}"
    assert viewer_client.get(url).status_code == 200
    assert outsider_client.get(url).status_code == 403
    assert outsider_client.get(reverse("job-detail", args=[job.code])).status_code == 403
    assert client.get(url).status_code == 302  # to the login page
    unknown = "/jobs/00000000-0000-0000-0000-000000000000/events/?before=1"
    assert viewer_client.get(unknown).status_code == 404


@pytest.mark.parametrize(
    ("before", "status"),
    [
        ("abc", 400),
        ("", 400),
        ("-1", 400),
        ("0", 400),
        ("1e3", 400),
        ("9" * 30, 400),
        ("999999999", 404),
    ],
)
def test_bad_cursors_are_refused_never_a_500(viewer_client, accounts, before, status):
    job = big_job(accounts, events=60)
    url = reverse("job-events", args=[job.code])
    assert viewer_client.get(url, {"before": before}).status_code == status


def test_an_event_of_another_job_is_no_cursor(viewer_client, accounts):
    job, other = big_job(accounts, events=60), big_job(accounts, events=70)
    foreign = other.events.first()
    url = reverse("job-events", args=[job.code]) + f"?before={foreign.pk}"
    assert viewer_client.get(url).status_code == 404


def test_the_raw_payload_is_shortened_with_the_full_one_a_download_away(viewer_client, accounts):
    job = big_job(accounts, events=5)
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    raw = html[html.index('<details class="raw">') :]
    assert "35 more items in the full payload" in raw and "word39" not in raw
    download = reverse("job-payload", args=[job.code])
    assert f'href="{download}"' in raw
    full = viewer_client.get(download)
    assert "attachment" in full["Content-Disposition"]
    assert json.loads(full.content) == job.raw
    small = Job.objects.create(account=accounts["tencent_ivh"], external_id="s", raw={"A": [1]})
    html = viewer_client.get(reverse("job-detail", args=[small.code])).content.decode()
    assert "Download the full payload" not in html
