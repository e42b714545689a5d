"""Resubmitting a job submitted through Clapboard, from its page and from the prefilled
submit form, over real HTTP against the simulator (signed CreateMediaJobs requests): the
same or the edited parameters reach the provider, the two jobs link to each other, the
timelines and the audit log say so; and the jobs Clapboard will not resubmit."""

from __future__ import annotations

import re
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from jobs.models import AuditEntry, Job, JobEvent
from jobs.providers.base import State
from jobs.services.audit import Action, Outcome, Via
from jobs.simulator.clock import Phase
from tests.views.test_submit import _form

pytestmark = pytest.mark.django_db

CSRF = "Csrf0Secret1For2Tests3Only4abcde"
SUBMIT = reverse("submit-voice-separation")


def _post(client: Client, url: str, data: dict | None = None):
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    return client.post(url, data or {}, HTTP_X_CSRFTOKEN=CSRF)


def _submitted(client: Client, account, **extra) -> Job:
    """A job submitted through the submit page (the provider has it)."""
    response = _post(client, SUBMIT, _form(account, **extra))
    assert response.status_code == 302, response.content
    return Job.objects.get(code=response["Location"].split("/")[2])


def _finished(client: Client, simulator, job: Job, phase: Phase = Phase.FAILED) -> Job:
    """`job` once the provider says it ended in `phase`, fetched by "Refresh now"."""
    simulator.jobs[("tencent_ci", job.external_id)].pinned = phase
    assert _post(client, reverse("job-refresh", args=[job.code])).status_code == 302
    job.refresh_from_db()
    assert job.state == phase.value
    return job


def _sent(simulator, job: Job) -> dict:
    """What the fake cloud received for `job`'s CreateMediaJobs request."""
    return simulator.jobs[("tencent_ci", job.external_id)].extra


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


def test_a_failed_job_is_resubmitted_from_its_page_with_the_same_parameters(
    operator_client, simulator, accounts
):
    first = _finished(
        operator_client, simulator, _submitted(operator_client, accounts["tencent_ci"])
    )
    page = operator_client.get(reverse("job-detail", args=[first.code])).content.decode()
    confirm_url = reverse("job-resubmit", args=[first.code])
    assert confirm_url in page and f"{SUBMIT}?from={first.code}" in page

    confirm = operator_client.get(confirm_url)
    assert confirm.status_code == 200 and "Resubmit the job" in confirm.content.decode()
    assert "out-1250000000" in _text(confirm)  # the parameters it will send
    assert Job.objects.count() == 1 and len(simulator.jobs) == 1  # a GET sends nothing

    response = _post(operator_client, confirm_url)
    assert response.status_code == 302
    second = Job.objects.exclude(pk=first.pk).get()
    assert response["Location"] == reverse("job-detail", args=[second.code])
    assert second.resubmission_of == first and second.submit_params == first.submit_params
    assert _sent(simulator, second) == _sent(simulator, first)  # the same request, again
    assert second.external_id != first.external_id

    notes = {
        job: job.events.filter(kind=JobEvent.Kind.ACTION).values_list("note", flat=True)
        for job in (first, second)
    }
    assert list(notes[first]) == [f"Resubmitted as {second.external_id} by olivia"]
    assert list(notes[second]) == [f"Resubmission of {first.external_id}, by olivia"]
    entry = AuditEntry.objects.get(action=Action.RESUBMIT)
    assert (entry.outcome, entry.via, entry.job_count) == (Outcome.DONE, Via.WEB, 2)
    assert set(entry.job_links.values_list("job", flat=True)) == {first.pk, second.pk}
    assert entry.detail["edited"] == [] and entry.detail["external_id"] == second.external_id
    assert not AuditEntry.objects.filter(action=Action.SUBMIT, job_links__job=second).exists()

    old_page = _text(operator_client.get(reverse("job-detail", args=[first.code])))
    assert f"Resubmitted as {second.external_id} (queued)" in old_page
    assert "Cannot resubmit" in old_page and confirm_url not in old_page
    new_page = operator_client.get(reverse("job-detail", args=[second.code]))
    assert f"Resubmission of {first.external_id} (failed)" in _text(new_page)
    assert reverse("job-detail", args=[first.code]) in new_page.content.decode()

    again = _post(operator_client, confirm_url)  # a double click: no second job
    assert again.status_code == 409
    assert f"already resubmitted as {second.external_id}" in _text(again)
    assert Job.objects.count() == 2 and len(simulator.jobs) == 2
    refused = AuditEntry.objects.get(action=Action.RESUBMIT, outcome=Outcome.REFUSED)
    assert "already resubmitted" in refused.summary


@pytest.mark.parametrize("phase", [Phase.SUCCEEDED, Phase.CANCELED])
def test_succeeded_and_canceled_jobs_are_resubmitted_too(
    phase, operator_client, simulator, accounts
):
    first = _submitted(operator_client, accounts["tencent_ci"])
    first = _finished(operator_client, simulator, first, phase)
    response = _post(operator_client, reverse("job-resubmit", args=[first.code]))
    assert response.status_code == 302
    assert ("tencent_ci", Job.objects.get(resubmission_of=first).external_id) in simulator.jobs


def test_edit_and_resubmit_sends_the_edited_parameters(operator_client, simulator, accounts):
    account = accounts["tencent_ci"]
    first = _finished(operator_client, simulator, _submitted(operator_client, account))
    url = f"{SUBMIT}?from={first.code}"
    form = operator_client.get(url)
    assert form.status_code == 200 and "Edit and resubmit" in form.content.decode()
    html = form.content.decode()
    assert 'value="output/voice.mp3"' in html and 'value="out-1250000000"' in html
    assert re.search(r'<select name="account"[^>]*disabled', html)  # its own account only

    edited = _form(account, voice_object="output/voice-2.mp3", bitrate="")
    edited["account"] = "junk"  # the account is not the form's to change
    response = _post(operator_client, url, edited)
    assert response.status_code == 302
    second = Job.objects.get(resubmission_of=first)
    assert response["Location"] == reverse("job-detail", args=[second.code])
    assert second.account == account
    sent = _sent(simulator, second)
    assert sent["output"]["AuObject"] == "output/voice-2.mp3"
    assert "Bitrate" not in sent["voice_separate"]["AudioConfig"]
    assert _sent(simulator, first)["output"]["AuObject"] == "output/voice.mp3"
    assert second.submit_params["voice_object"] == "output/voice-2.mp3"
    entry = AuditEntry.objects.get(action=Action.RESUBMIT)
    assert entry.detail["edited"] == ["bitrate", "voice_object"]


def test_an_edit_the_form_refuses_is_shown_in_place_and_nothing_is_sent(
    operator_client, simulator, accounts
):
    account = accounts["tencent_ci"]
    first = _finished(operator_client, simulator, _submitted(operator_client, account))
    response = _post(operator_client, f"{SUBMIT}?from={first.code}", _form(account, bitrate="9999"))
    assert response.status_code == 200
    assert "Bitrate (kbps) must be at most 1000." in _text(response)
    assert not Job.objects.filter(resubmission_of=first).exists() and len(simulator.jobs) == 1


def test_a_job_still_running_is_refused_until_it_finishes(operator_client, simulator, accounts):
    job = _submitted(operator_client, accounts["tencent_ci"])
    assert job.state in (State.QUEUED, State.RUNNING)
    page = _text(operator_client.get(reverse("job-detail", args=[job.code])))
    assert "Cannot resubmit" in page and "Resubmit…" not in page
    url = reverse("job-resubmit", args=[job.code])
    assert f"still {job.state} — cancel it first" in _text(operator_client.get(url))
    response = _post(operator_client, url)
    assert response.status_code == 409 and f"still {job.state}" in _text(response)
    form = operator_client.get(f"{SUBMIT}?from={job.code}")
    assert "Cannot resubmit: The job is still" in _text(form)
    assert "Resubmit and track" not in form.content.decode()
    posted = _post(operator_client, f"{SUBMIT}?from={job.code}", _form(accounts["tencent_ci"]))
    assert posted.status_code == 409
    assert Job.objects.count() == 1 and len(simulator.jobs) == 1
    assert AuditEntry.objects.filter(action=Action.RESUBMIT, outcome=Outcome.REFUSED).count() == 2


def test_a_job_tracked_but_not_submitted_through_clapboard_is_refused(
    operator_client, simulator, accounts
):
    job = Job.objects.create(
        account=accounts["tencent_ci"], external_id="j-tracked", state=State.FAILED
    )
    page = operator_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert "Cannot resubmit" in page and "not submitted through Clapboard" in page
    response = _post(operator_client, reverse("job-resubmit", args=[job.code]))
    assert response.status_code == 409 and "not submitted through Clapboard" in _text(response)
    assert "tencent_ci" not in simulator.requests
    entry = AuditEntry.objects.get(action=Action.RESUBMIT)
    assert entry.outcome == Outcome.REFUSED and entry.job_count == 1


def test_a_job_whose_provider_cannot_submit_shows_no_resubmit_at_all(operator_client, accounts):
    job = Job.objects.create(account=accounts["tencent_vod"], external_id="v-1", state="failed")
    page = operator_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert "resubmit" not in page.lower()


def test_a_disabled_account_is_refused(operator_client, simulator, accounts):
    account = accounts["tencent_ci"]
    job = _finished(operator_client, simulator, _submitted(operator_client, account))
    account.enabled = False
    account.save(update_fields=["enabled"])
    response = _post(operator_client, reverse("job-resubmit", args=[job.code]))
    assert response.status_code == 409 and "sim-tencent_ci is disabled" in _text(response)
    assert len(simulator.jobs) == 1


def test_a_provider_refusal_is_said_on_the_job_page(operator_client, simulator, accounts):
    job = _finished(operator_client, simulator, _submitted(operator_client, accounts["tencent_ci"]))
    simulator.inject("http_500", "tencent_ci")
    response = _post(operator_client, reverse("job-resubmit", args=[job.code]))
    assert response["Location"] == reverse("job-detail", args=[job.code])
    page = _text(operator_client.get(response["Location"]))
    assert "Not resubmitted: Tencent Cloud Infinite refused the job" in page
    assert not Job.objects.filter(resubmission_of=job).exists()
    entry = AuditEntry.objects.get(action=Action.RESUBMIT)
    assert entry.outcome == Outcome.REFUSED and entry.job_count == 1


def test_viewers_see_the_links_but_cannot_resubmit(
    operator_client, viewer_client, simulator, accounts
):
    first = _finished(
        operator_client, simulator, _submitted(operator_client, accounts["tencent_ci"])
    )
    viewer_page = viewer_client.get(reverse("job-detail", args=[first.code])).content.decode()
    assert "Resubmit…" not in viewer_page and "Edit and resubmit" not in viewer_page
    assert "Cannot resubmit" not in viewer_page
    url = reverse("job-resubmit", args=[first.code])
    assert viewer_client.get(url).status_code == 403
    assert _post(viewer_client, url).status_code == 403
    assert viewer_client.get(f"{SUBMIT}?from={first.code}").status_code == 403
    assert not Job.objects.filter(resubmission_of=first).exists()

    _post(operator_client, url)
    second = Job.objects.get(resubmission_of=first)
    page = _text(viewer_client.get(reverse("job-detail", args=[first.code])))
    assert f"Resubmitted as {second.external_id}" in page


@pytest.mark.parametrize("value", ["junk", str(uuid.uuid4()), "1' OR 1=1"])
def test_a_from_that_names_no_job_is_a_404(operator_client, value):
    assert operator_client.get(SUBMIT, {"from": value}).status_code == 404
