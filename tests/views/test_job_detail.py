from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, Job, JobEvent
from jobs.refresh import refresh_once

pytestmark = pytest.mark.django_db

WORDS = [
    {"text": "hello world", "words": [["hello", 0, 400], ["world", 450, 900]]},
    {"text": "bye", "words": [["bye", 1500, 1800]]},
]
SRT = "1\n00:00:00,000 --> 00:00:00,900\nhello world\n\n2\n00:00:01,500 --> 00:00:01,800\nbye\n"


@pytest.mark.django_db(transaction=True)  # the refresh engine's threads must see the rows
def test_detail_of_a_finished_job_has_player_subtitles_words_and_downloads(
    viewer_client, simulator, accounts
):
    simulator.add_job("tencent_ivh", "ivh-done", pinned="succeeded")
    job = Job.objects.create(account=accounts["tencent_ivh"], external_id="ivh-done")
    refresh_once()
    job.refresh_from_db()
    html = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert f'src="{job.media_url}"' in html and 'id="job-media"' in html
    assert job.words  # the simulator's IVH answer carries word timings
    assert word_payload(html) == [
        [list(word) for word in sentence["words"]] for sentence in job.words
    ]
    assert 'class="cue"' in html and "<track" in html
    assert reverse("job-srt", args=[job.code]) in html
    assert reverse("job-words-vtt", args=[job.code]) in html
    assert "Raw provider payload" in html


def word_payload(html: str) -> list:
    """The word timings the page hands player.js (its one application/json script)."""
    found = re.findall(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def test_downloads(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id="w",
        words=WORDS,
        subtitles=SRT,
        state="succeeded",
    )
    srt_file = viewer_client.get(reverse("job-srt", args=[job.code]))
    assert srt_file.content.decode() == SRT and "attachment" in srt_file["Content-Disposition"]
    vtt = viewer_client.get(reverse("job-words-vtt", args=[job.code])).content.decode()
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.000 --> 00:00:00.900\nhello world" in vtt
    assert "00:00:01.500 --> 00:00:01.800\nbye" in vtt
    track = viewer_client.get(reverse("job-subtitles-vtt", args=[job.code])).content.decode()
    assert "00:00:01.500 --> 00:00:01.800\nbye" in track
    empty = Job.objects.create(account=accounts["tencent_ivh"], external_id="none")
    assert viewer_client.get(reverse("job-srt", args=[empty.code])).status_code == 404


def _detail_of_a_new_job(client: Client, account: Account, **fields: Any) -> str:
    """The detail page's HTML for a job just stored with `fields`."""
    job = Job.objects.create(account=account, **fields)
    return client.get(reverse("job-detail", args=[job.code])).content.decode()


def test_failure_is_explained_from_the_providers_catalogue(viewer_client, accounts):
    html = _detail_of_a_new_job(
        viewer_client,
        accounts["tencent_vod"],
        external_id="f",
        state="failed",
        failure_code="70000",
        failure_message="internal error",
    )
    assert "Why it failed" in html and "70000" in html and "Retrying may help" in html


def test_eta_from_progress_history_or_an_honest_no(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="eta", state="running", progress=50
    )
    page = viewer_client.get(reverse("job-detail", args=[job.code]))
    assert "Not enough progress history yet" in page.content.decode()
    now = timezone.now()
    JobEvent.objects.create(job=job, state="running", progress=10, at=now - timedelta(seconds=80))
    JobEvent.objects.create(job=job, state="running", progress=50, at=now)
    page = viewer_client.get(reverse("job-detail", args=[job.code]))
    assert "Finishes in about 2 min" in page.content.decode()


def test_live_poll_204_while_unchanged_286_when_finished(viewer_client, accounts):
    job = Job.objects.create(account=accounts["tencent_ivh"], external_id="live", state="running")
    url = reverse("job-detail", args=[job.code])
    live = viewer_client.get(url).context["live_url"]
    poll = viewer_client.get(url + live, HTTP_HX_REQUEST="true")
    assert poll.status_code == 204
    Job.objects.filter(pk=job.pk).update(state="running", progress=40, version=1)
    poll = viewer_client.get(url + live, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "40 %" in poll.content.decode()
    assert "<html" not in poll.content.decode()
    Job.objects.filter(pk=job.pk).update(state="failed", version=2)
    live = viewer_client.get(url).context["live_url"]
    assert viewer_client.get(url + live, HTTP_HX_REQUEST="true").status_code == 286
    # Media arriving reloads the page once, so the player appears.
    Job.objects.filter(pk=job.pk).update(media_url="https://example.com/a.mp4", version=3)
    poll = viewer_client.get(url + live, HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true"


@pytest.mark.django_db(transaction=True)
def test_operators_act_viewers_cannot(
    operator_client, viewer_client, outsider_client, simulator, accounts
):
    simulator.add_job("tencent_ivh", "ivh-act", pinned="running", pinned_progress=33)
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-act", state="running"
    )
    detail = reverse("job-detail", args=[job.code])
    assert "Refresh now" not in viewer_client.get(detail).content.decode()
    for client, expected in ((viewer_client, 403), (outsider_client, 403)):
        assert client.post(reverse("job-refresh", args=[job.code])).status_code == expected
        assert (
            client.post(reverse("job-watch", args=[job.code]), {"watch": "stop"}).status_code
            == expected
        )
    assert outsider_client.get(detail).status_code == 403

    page = operator_client.get(detail).content.decode()
    assert "Refresh now" in page and "Stop watching" in page
    token = operator_client.cookies["csrftoken"].value
    response = operator_client.post(reverse("job-refresh", args=[job.code]), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.progress == 33  # the task ran (sync in tests) and polled the simulator

    operator_client.post(
        reverse("job-watch", args=[job.code]), {"watch": "stop"}, HTTP_X_CSRFTOKEN=token
    )
    job.refresh_from_db()
    assert job.next_poll_at is None and "Stopped watching by olivia" in job.stopped_reason
    operator_client.post(
        reverse("job-watch", args=[job.code]), {"watch": "resume"}, HTTP_X_CSRFTOKEN=token
    )
    job.refresh_from_db()
    assert job.next_poll_at is not None and job.stopped_reason == ""


def test_post_without_csrf_token_is_refused(operator_client, accounts):
    job = Job.objects.create(account=accounts["aliyun_ice"], external_id="csrf", state="running")
    operator_client.get(reverse("job-detail", args=[job.code]))
    assert operator_client.post(reverse("job-refresh", args=[job.code])).status_code == 403


# Provider text with markup in every field the detail page shows.
HOSTILE_JOB = {
    "name": "<script>alert(1)</script>",
    "failure_code": "801005",
    "failure_message": "<img src=x onerror=alert(2)>",
    "words": [{"text": "<b>", "words": [["<i>word</i>", 0, 10]]}],
    "subtitles": "1\n00:00:00,000 --> 00:00:01,000\n<script>x()</script>\n",
    "raw": {"Payload": "<script>alert(3)</script>"},
}


def test_hostile_provider_text_is_shown_as_text(viewer_client, accounts):
    html = _detail_of_a_new_job(
        viewer_client, accounts["tencent_ivh"], external_id="x", state="failed", **HOSTILE_JOB
    )
    for hostile in ("<script>alert", "<img src=x", "<i>word</i>", "<script>x()"):
        assert hostile not in html
    # The sentence as text, the word inside the JSON payload escaped the json_script way.
    assert '<p class="sentence">&lt;b&gt;</p>' in html
    assert '"\\u003Ci\\u003Eword\\u003C/i\\u003E"' in html
