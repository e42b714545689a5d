from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.models import Job
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db

URL = "/submit/voice-separation/"


def _form(account, **extra):
    data = {
        "account": str(account.code),
        "input_object": "input/demo.mp4",
        "audio_mode": "IsAudio",
        "codec": "mp3",
        "samplerate": "44100",
        "bitrate": "128",
        "channels": "2",
        "output_bucket": "out-1250000000",
        "output_region": "ap-guangzhou",
        "voice_object": "output/voice.mp3",
        "background_object": "output/background.mp3",
    }
    data.update(extra)
    return data


# The inline audio settings, all left blank (as when a template gives them).
NO_AUDIO_SETTINGS = {"audio_mode": "", "codec": "", "samplerate": "", "bitrate": "", "channels": ""}


def test_submit_creates_tracks_and_opens_the_job(operator_client, simulator, accounts):
    account = accounts["tencent_ci"]
    response = csrf_post(operator_client, URL, _form(account))
    assert response.status_code == 302
    job = Job.objects.get(account=account)
    assert response["Location"] == reverse("job-detail", args=[job.code])
    assert job.kind == "VoiceSeparate" and job.version == 1  # its first status is stored
    assert ("tencent_ci", job.external_id) in simulator.jobs  # the fake cloud has it


def test_template_instead_of_inline_settings(operator_client, simulator, accounts):
    data = _form(
        accounts["tencent_ci"],
        template_id="t1460606b9752148c4ab182f55163ba7cd",
        **NO_AUDIO_SETTINGS,
    )
    assert csrf_post(operator_client, URL, data).status_code == 302


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"voice_object": "", "background_object": ""}, "voice_object", "at least one output"),
        ({"template_id": "t1"}, "template_id", "not both"),
        ({"audio_mode": ""}, "audio_mode", "Choose an audio mode"),
        ({"input_object": ""}, "input_object", "Give the input object"),
    ],
)
def test_validation_errors_show_in_place_and_keep_the_input(
    operator_client, accounts, extra, field, message
):
    response = csrf_post(operator_client, URL, _form(accounts["tencent_ci"], **extra))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    html = response.content.decode()
    assert "out-1250000000" in html and 'class="field invalid"' in html
    assert not Job.objects.exists()


def _field_blocks(html: str) -> dict[str, str]:
    """Each form field's block of HTML (label, input, help, errors), by input id."""
    blocks = {}
    for block in re.findall(r'<div class="field[^"]*">(.*?)</div>', html, re.S):
        match = re.search(r'<label for="id_(\w+)"', block)
        if match:
            blocks[match.group(1)] = block
    return blocks


def test_every_field_error_shows_at_once_next_to_its_field(operator_client, simulator, accounts):
    data = _form(
        accounts["tencent_ci"],
        **NO_AUDIO_SETTINGS | {"bitrate": "5000"},
        input_object="",
        output_bucket="nobucket",
        output_region="mars-1",
        voice_object="",
        background_object="",
    )
    response = csrf_post(operator_client, URL, data)
    assert response.status_code == 200 and not Job.objects.exists()
    assert "tencent_ci" not in simulator.requests  # nothing was sent
    blocks = _field_blocks(response.content.decode())
    expected = {
        "input_object": "Give the input object.",
        "output_bucket": "give the output bucket as name-APPID",
        "output_region": "“mars-1” is not a Tencent Cloud COS region",
        "audio_mode": "Choose an audio mode, or give a template ID.",
        "bitrate": "Bitrate (kbps) must be at most 1000.",
        "voice_object": "Name at least one output",
    }
    for field, message in expected.items():
        assert 'class="error"' in blocks[field] and message in blocks[field], field
    errors = " ".join(" ".join(e) for e in response.context["form"].errors.values())
    assert "output_bucket" not in errors and "input_object" not in errors  # labels, not names
    assert 'role="alert"' not in response.content.decode()  # nothing only at the top


def test_a_region_outside_the_provider_list_is_refused(operator_client, simulator, accounts):
    response = csrf_post(
        operator_client, URL, _form(accounts["tencent_ci"], output_region="mars-1")
    )
    assert response.status_code == 200 and not Job.objects.exists()
    assert "output_region" in response.context["form"].errors
    assert "tencent_ci" not in simulator.requests
    assert csrf_post(
        operator_client, URL, _form(accounts["tencent_ci"], output_region="ap-nanjing")
    )["Location"].startswith("/jobs/")


def test_the_only_account_is_preselected(operator_client, accounts):
    html = operator_client.get(URL).content.decode()
    code = accounts["tencent_ci"].code
    assert re.search(rf'<option value="{code}" selected>', html)
    # Its region is the likely output region.
    assert re.search(r'<option value="ap-guangzhou" selected>', html)


def test_provider_refusal_is_a_clear_form_error(operator_client, simulator, accounts):
    simulator.inject("http_500", "tencent_ci")
    response = csrf_post(operator_client, URL, _form(accounts["tencent_ci"]))
    assert "refused the job" in response.content.decode()
    assert not Job.objects.exists()


def test_only_submit_capable_accounts_are_offered(operator_client, accounts):
    choices = csrf_post(operator_client, URL, {}).context["form"].fields["account"].queryset
    assert list(choices) == [accounts["tencent_ci"]]


def test_viewers_cannot_submit(viewer_client):
    assert viewer_client.get(URL).status_code == 403


def test_a_submitted_job_names_its_callback_when_the_account_has_a_receiver(
    operator_client, simulator, accounts, settings
):
    from jobs.services.audit import Via
    from jobs.services.notifications import hook_secret_create, submit_callback_url

    account = accounts["tencent_ci"]
    settings.CLAPBOARD_BASE_URL = "https://clapboard.example.com"
    assert csrf_post(operator_client, URL, _form(account, voice_object="a.mp3")).status_code == 302
    first = Job.objects.get(account=account)
    assert simulator.jobs[("tencent_ci", first.external_id)].extra["callback"] == ""
    hook_secret_create(account=account, user=None, via=Via.CLI)
    account.refresh_from_db()
    assert csrf_post(operator_client, URL, _form(account, voice_object="b.mp3")).status_code == 302
    second = Job.objects.exclude(pk=first.pk).get(account=account)
    callback = simulator.jobs[("tencent_ci", second.external_id)].extra["callback"]
    assert callback == submit_callback_url(account) and callback.startswith(
        f"https://clapboard.example.com/hooks/{account.code}/"
    )
    assert "callback" not in str(second.submit_params)  # the secret URL is not kept
