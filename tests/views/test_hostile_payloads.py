"""Provider-supplied text with HTML and script, straight from the simulator, is shown as
text on every page that shows it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import Job
from jobs.refresh import refresh_once
from jobs.services.sharing import share_create

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE_NAME = '<script>alert("name")</script>'
HOSTILE_MESSAGE = '<img src=x onerror=alert("message")>'


@pytest.mark.parametrize("code", ["tencent_vod", "huawei_metastudio", "aliyun_ice", "tencent_ivh"])
def test_hostile_provider_text_is_escaped_everywhere(
    simulator, accounts, staff_client, staff_admin, code
):
    simulator.add_job(
        code,
        f"{code}-evil",
        pinned="failed",
        name=HOSTILE_NAME,
        failure_code="InternalError",
        failure_message=HOSTILE_MESSAGE,
    )
    job = Job.objects.create(account=accounts[code], external_id=f"{code}-evil")
    refresh_once()
    job.refresh_from_db()
    assert job.state == "failed"
    assert HOSTILE_MESSAGE in job.failure_message  # stored as the provider said it

    _, token = share_create(job=job, user=staff_admin)
    pages = [
        staff_client.get(reverse("job-list")).content.decode(),
        staff_client.get(reverse("job-detail", args=[job.code])).content.decode(),
        staff_client.get(f"/admin/jobs/job/{job.pk}/change/").content.decode(),
        Client().get(reverse("shared-job", args=[token])).content.decode(),
    ]
    for html in pages:
        assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(&quot;message&quot;)&gt;" in pages[1]
