"""A job page's inputs and outputs, read from the provider's stored answer: fields, with
links only where the provider gives an http(s) URL."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.models import Job
from jobs.providers.aliyun_ice.parsing import io_fields as ice_io
from jobs.refresh import refresh_once

pytestmark = pytest.mark.django_db(transaction=True)  # the refresh threads read the rows


def _finished(simulator, account, external_id: str) -> Job:
    simulator.add_job(account.provider, external_id, pinned="succeeded")
    Job.objects.create(account=account, external_id=external_id, state="unknown")
    refresh_once()
    return Job.objects.get(external_id=external_id)


def _io(page: str) -> dict[str, str]:
    card = re.search(r'<section class="card io".*?</section>', page, re.S)
    assert card, "no inputs and outputs card"
    pairs = re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", card.group(0), re.S)
    return {label: value for label, value in pairs}


def test_ci_shows_input_template_queue_and_linked_outputs(viewer_client, simulator, accounts):
    job = _finished(simulator, accounts["tencent_ci"], "ci-io-1")
    fields = _io(viewer_client.get(reverse("job-detail", args=[job.code])).content.decode())
    assert "Input object" in fields and "Queue" in fields
    output = fields.get("Vocal track") or fields["Output object"]
    # Linked on the account's endpoint (the simulator), where the adapter fetches it too.
    assert f'href="{simulator.url}/' in output


def test_ice_lists_its_function_media_and_output_files(viewer_client, simulator, accounts):
    job = _finished(simulator, accounts["aliyun_ice"], "ice-io-1")
    fields = _io(viewer_client.get(reverse("job-detail", args=[job.code])).content.decode())
    assert {"Function", "Input media", "Output media", "Output file"} <= set(fields)
    assert "href=" in fields["Output file"] and "href=" not in fields["Input media"]


def test_metastudio_shows_its_asset_and_cover(viewer_client, simulator, accounts):
    job = _finished(simulator, accounts["huawei_metastudio"], "ms-io-1")
    fields = _io(viewer_client.get(reverse("job-detail", args=[job.code])).content.decode())
    assert {"Asset", "Asset name", "Cover"} <= set(fields)
    assert "href=" in fields["Cover"]


def test_only_http_urls_are_links_and_odd_payloads_show_nothing_broken():
    raw = {
        "FunctionName": "<script>x</script>",
        "Input": "not a mapping",
        "OutputFiles": ["a.wav", "b.wav", 7],
        "OutputUrls": ["javascript:alert(1)", "https://cdn.example.com/b.wav"],
    }
    fields = ice_io(raw)
    assert [(f.label, f.value, f.url) for f in fields] == [
        ("Function", "<script>x</script>", ""),
        ("Output file", "a.wav", ""),
        ("Output file", "b.wav", "https://cdn.example.com/b.wav"),
        ("Output file", "7", ""),
    ]
    assert ice_io({}) == []


def test_providers_without_fields_show_no_card(viewer_client, simulator, accounts):
    job = _finished(simulator, accounts["tencent_ivh"], "ivh-io-1")
    page = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert 'class="card io"' not in page
