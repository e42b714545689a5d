"""The player's media: how long its link works (each provider's documented retention), and
what the media host answers when the browser cannot load it."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job
from jobs.providers.aliyun_ice import AliyunIce
from jobs.providers.huawei_metastudio import HuaweiMetaStudio
from jobs.providers.tencent_ci import TencentCi
from jobs.providers.tencent_ivh import TencentIvh
from jobs.providers.tencent_vod import TencentVod
from jobs.services.sharing import share_create

pytestmark = pytest.mark.django_db
T0 = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/out/promo.mp4"


def media_job(account, media_url: str, **fields) -> Job:
    """A succeeded job whose media is at `media_url` (external ID "media-task" unless told)."""
    return Job.objects.create(
        account=account,
        external_id=fields.pop("external_id", "media-task"),
        state="succeeded",
        media_url=media_url,
        **fields,
    )


def _check(client: Client, job: Job):
    return client.get(reverse("job-media-check", args=[job.code]))


def test_each_provider_states_its_media_retention_as_data():
    assert TencentIvh.media_retention == timedelta(days=7)
    assert HuaweiMetaStudio.media_retention == timedelta(hours=24)
    for undocumented in (TencentVod, TencentCi, AliyunIce):
        assert undocumented.media_retention is None
    for provider in (TencentIvh, TencentVod, TencentCi, HuaweiMetaStudio, AliyunIce):
        assert provider.media_note and not provider.media_note.endswith(".")


def test_an_old_ivh_link_is_marked_as_probably_expired(viewer_client, accounts):
    job = media_job(
        accounts["tencent_ivh"],
        "https://cdn.example.com/a.mp4",
        finished_at=timezone.now() - timedelta(days=8),
    )
    page = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert "This media link has probably expired" in page
    assert "Tencent IVH video maker keeps media links for 7 days" in page
    assert "Tencent IVH video maker keeps generated media for 7 days unless the job was" in page
    assert "Its link has probably expired" in page  # what the error box will say
    assert "should work until" not in page


def test_a_fresh_link_says_until_when_it_works(viewer_client, accounts):
    finished = timezone.now().replace(microsecond=0) - timedelta(days=1)
    ivh = media_job(accounts["tencent_ivh"], "https://cdn.example.com/a.mp4", finished_at=finished)
    page = viewer_client.get(reverse("job-detail", args=[ivh.code])).content.decode()
    assert "probably expired" not in page
    until = (finished + timedelta(days=7)).isoformat()
    assert f'should work until about <time datetime="{until}"' in page

    # MetaStudio reports no finish time here: the last answer is when the link was handed out.
    metastudio = media_job(
        accounts["huawei_metastudio"],
        "https://obs.example.com/preview.mp4?Signature=abc",
        external_id="ms-task",
        last_polled_at=timezone.now() - timedelta(hours=25),
    )
    page = viewer_client.get(reverse("job-detail", args=[metastudio.code])).content.decode()
    assert "Huawei MetaStudio keeps media links for 24 hours" in page


def test_a_provider_without_a_documented_expiry_says_where_media_lives(viewer_client, accounts):
    job = media_job(accounts["tencent_ci"], "https://bucket-1250000000.cos.example.com/out.wav")
    page = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert "writes results to your own COS bucket, where they stay until deleted." in page
    assert "probably expired" not in page and "should work until" not in page
    # The error box is in the page, hidden until the browser fails to load the media.
    assert re.search(r'data-media-error role="alert" hidden', page)
    assert "bucket-1250000000.cos.example.com may be unreachable from here" in page
    assert f'data-media-check="{reverse("job-media-check", args=[job.code])}"' in page


def test_the_share_page_says_the_same_without_naming_the_provider(operator, accounts, time_machine):
    time_machine.move_to(T0, tick=False)
    job = media_job(
        accounts["tencent_ivh"], "https://cdn.example.com/a.mp4", finished_at=T0 - timedelta(days=8)
    )
    _, token = share_create(job=job, user=operator)
    page = Client().get(reverse("shared-job", args=[token])).content.decode()
    assert "This media link has probably expired: the provider keeps media links for 7 days" in page
    assert "The provider keeps generated media for 7 days unless" in page
    assert "Tencent" not in page
    assert "data-media-check" not in page and "Open the media link" not in page


@pytest.mark.parametrize(
    ("path", "verdict", "says"),
    [
        ("/_sim/media/tencent_ivh/{external_id}.wav", "available", "does send the media"),
        ("/_sim/media/tencent_ivh/no-such-task.wav", "gone", "answers HTTP 404: the file is gone"),
    ],
)
def test_the_check_says_what_the_media_host_answers(
    viewer_client, simulator, accounts, path, verdict, says
):
    simulator.add_job("tencent_ivh", "ivh-media", pinned="succeeded")
    url = simulator.url + path.format(external_id="ivh-media")
    job = media_job(accounts["tencent_ivh"], url)
    response = _check(viewer_client, job)
    assert response.status_code == 200
    assert response.json()["verdict"] == verdict
    assert says in response.json()["message"]
    assert "127.0.0.1" in response.json()["message"]
    assert "no-store" in response["Cache-Control"]


def test_the_check_tells_an_unreachable_host_and_never_repeats_the_url(viewer_client, accounts):
    url = closed_port_url() + "?sign=secret-signature-0042"
    job = media_job(accounts["tencent_ivh"], url)
    answer = _check(viewer_client, job).json()
    assert answer["verdict"] == "unreachable"
    assert "cannot connect to 127.0.0.1 either" in answer["message"]
    assert "secret-signature-0042" not in answer["message"] and "/out/" not in answer["message"]


def test_the_check_refuses_private_addresses(viewer_client, accounts, settings):
    settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH = False
    job = media_job(accounts["tencent_ivh"], "http://127.0.0.1:1/metadata")
    answer = _check(viewer_client, job).json()
    assert answer["verdict"] == "refused"


def test_the_check_is_for_signed_in_viewers_of_a_job_with_media(
    viewer_client, outsider_client, accounts
):
    job = media_job(accounts["tencent_ivh"], closed_port_url())
    assert _check(outsider_client, job).status_code == 403
    anonymous = _check(Client(), job)
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]
    no_media = media_job(accounts["tencent_ivh"], "", external_id="no-media")
    assert _check(viewer_client, no_media).status_code == 404
    assert viewer_client.post(reverse("job-media-check", args=[job.code])).status_code in (403, 405)
