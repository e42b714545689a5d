"""Cancelling jobs from the job page, the API and `manage.py canceljobs`, over real HTTP
against the simulator (signed requests, the provider's rules): accepted, refused because
running, a provider error, and the providers without a cancel API."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from jobs.models import AuditEntry, Job, JobEvent
from jobs.providers.base import State
from jobs.services import cancel_refusal, jobs_cancel
from jobs.services.api_tokens import api_token_create
from jobs.services.audit import Action, Outcome, Via
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db

CANCELLABLE = ("tencent_ci", "huawei_metastudio", "aliyun_ice")


def _tracked(simulator, account, external_id: str, phase: str) -> Job:
    simulator.add_job(account.provider, external_id, pinned=phase)
    state = {"queued": State.QUEUED, "running": State.RUNNING}[phase]
    return Job.objects.create(account=account, external_id=external_id, state=state)


@pytest.mark.parametrize("provider", CANCELLABLE)
def test_a_waiting_job_is_cancelled_from_its_page_and_refreshed(
    provider, operator_client, simulator, accounts
):
    account = accounts[provider]
    job = _tracked(simulator, account, f"{provider}-wait-1", "queued")
    url = reverse("job-cancel", args=[job.code])
    detail = operator_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert url in detail  # the button is there for a waiting job
    confirm = operator_client.get(url)
    assert confirm.status_code == 200 and "Cancel the job" in confirm.content.decode()
    assert Job.objects.get(pk=job.pk).state == State.QUEUED  # a GET changes nothing

    response = csrf_post(operator_client, url)
    assert response.status_code == 302
    job.refresh_from_db()
    # Refreshed at once: the stored state is the provider's answer after the cancel.
    assert job.state == State.CANCELED
    note = job.events.filter(kind=JobEvent.Kind.ACTION).get().note
    assert note == "Cancel requested by olivia: the provider accepted it"
    entry = AuditEntry.objects.get(action=Action.CANCEL)
    assert (entry.outcome, entry.via, entry.job_count) == (Outcome.DONE, Via.WEB, 1)
    assert entry.detail["jobs"][job.external_id]["outcome"] == "accepted"


@pytest.mark.parametrize("provider", CANCELLABLE)
def test_a_running_job_is_refused_by_the_provider_with_its_reason(
    provider, operator, simulator, accounts
):
    account = accounts[provider]
    job = _tracked(simulator, account, f"{provider}-run-1", "queued")
    # Clapboard last saw it waiting, but it started since: the provider refuses.
    simulator.add_job(provider, job.external_id, pinned="running")
    (result,) = jobs_cancel(account=account, jobs=[job], user=operator, via=Via.WEB)
    assert result.outcome == "refused" and result.message
    assert AuditEntry.objects.get(action=Action.CANCEL).outcome == Outcome.REFUSED
    note = job.events.get(kind=JobEvent.Kind.ACTION).note
    assert note.startswith("Cancel requested by olivia: the provider refused (")


def test_a_job_seen_running_is_skipped_without_a_request(operator, simulator, accounts):
    account = accounts["tencent_ci"]
    job = _tracked(simulator, account, "ci-run-2", "running")
    before = simulator.requests.get("tencent_ci", 0)
    (result,) = jobs_cancel(account=account, jobs=[job], user=operator, via=Via.WEB)
    assert result.outcome == "skipped" and "running" in result.message
    assert simulator.requests.get("tencent_ci", 0) == before
    assert not job.events.exists()  # not asked: nothing on the timeline


def test_a_provider_error_is_reported_and_recorded_on_the_account(operator, simulator, accounts):
    account = accounts["huawei_metastudio"]
    job = _tracked(simulator, account, "ms-wait-err", "queued")
    creds = dict(account.credentials)
    creds["secret_key"] = "wrong-secret-key"
    account.credentials = creds
    account.save()
    (result,) = jobs_cancel(account=account, jobs=[job], user=operator, via=Via.WEB)
    assert result.outcome == "error"
    account.refresh_from_db()
    assert account.last_error and account.consecutive_failures >= 1
    assert AuditEntry.objects.get(action=Action.CANCEL).outcome == Outcome.FAILED
    assert Job.objects.get(pk=job.pk).state == State.QUEUED


@pytest.mark.parametrize("provider", ["tencent_ivh", "tencent_vod"])
def test_providers_without_a_cancel_api_show_why_and_refuse(
    provider, operator_client, simulator, accounts
):
    job = _tracked(simulator, accounts[provider], f"{provider}-wait-2", "queued")
    reason = cancel_refusal(job)
    assert "no" in reason.lower() and "cancel" in reason.lower()
    detail = operator_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert reverse("job-cancel", args=[job.code]) not in detail
    assert "Cannot cancel" in detail
    response = csrf_post(operator_client, reverse("job-cancel", args=[job.code]))
    assert response.status_code == 409
    assert not AuditEntry.objects.filter(action=Action.CANCEL).exists()


def test_viewers_cannot_cancel(viewer_client, simulator, accounts):
    job = _tracked(simulator, accounts["tencent_ci"], "ci-wait-viewer", "queued")
    assert viewer_client.get(reverse("job-cancel", args=[job.code])).status_code == 403
    assert csrf_post(viewer_client, reverse("job-cancel", args=[job.code])).status_code == 403
    assert Job.objects.get(pk=job.pk).state == State.QUEUED


def test_the_api_cancels_and_says_what_happened(operator, viewer, simulator, accounts):
    waiting = _tracked(simulator, accounts["aliyun_ice"], "ice-wait-api", "queued")
    ivh = _tracked(simulator, accounts["tencent_ivh"], "ivh-wait-api", "queued")
    _, token = api_token_create(user=operator, name="ops")
    _, viewer_token = api_token_create(user=viewer, name="read")
    api = Client()

    def cancel(job, bearer):
        return api.post(f"/api/v1/jobs/{job.code}/cancel", HTTP_AUTHORIZATION=f"Bearer {bearer}")

    response = cancel(waiting, token)
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"
    assert Job.objects.get(pk=waiting.pk).state == State.CANCELED
    skipped = cancel(ivh, token).json()
    assert skipped["outcome"] == "skipped" and skipped["message"] == cancel_refusal(ivh)
    assert cancel(waiting, viewer_token).status_code == 403
    entry = AuditEntry.objects.filter(action=Action.CANCEL, via=Via.API).first()
    assert entry is not None and entry.actor == "olivia"


def test_canceljobs_prints_one_line_per_id_and_fails_if_any_did(simulator, accounts, capsys):
    account = accounts["tencent_ci"]
    waiting = [_tracked(simulator, account, f"ci-cli-{i}", "queued") for i in range(3)]
    running = _tracked(simulator, account, "ci-cli-run", "running")
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "canceljobs",
            account.name,
            *[j.external_id for j in waiting],
            running.external_id,
            "ci-not-tracked",
        )
    assert exit_info.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ci-not-tracked: not tracked on {account.name}"
    for job in waiting:
        assert f"{job.external_id}: accepted (now canceled)" in lines
    assert any(line.startswith("ci-cli-run: skipped: ") for line in lines)
    assert len(lines) == 5
    entry = AuditEntry.objects.get(action=Action.CANCEL)
    assert (entry.via, entry.actor, entry.outcome) == (Via.CLI, "command line", Outcome.PARTIAL)

    capsys.readouterr()
    fresh = _tracked(simulator, account, "ci-cli-ok", "queued")
    call_command("canceljobs", account.name, fresh.external_id)  # all accepted: exit 0
    assert "ci-cli-ok: accepted (now canceled)" in capsys.readouterr().out
