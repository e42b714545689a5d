"""Subtitle download names come from outside (task IDs, job names): no name may break the
Content-Disposition header, smuggle in a second filename, or change the file's type."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from jobs.models import Job
from jobs.services.sharing import share_create

pytestmark = pytest.mark.django_db

SRT = "1\n00:00:00,000 --> 00:00:00,900\nhello world\n"
WORDS = [{"text": "hello world", "words": [["hello", 0, 400], ["world", 450, 900]]}]
HOSTILE = [
    "task\r\nSet-Cookie: stolen=1",
    "task\nX-Injected: 1",
    "\";filename*=UTF-8''evil.html;x=",
    'say "cheese"',
    "back\\slash",
    "../../etc/passwd",
    "evil.html",
    "\x01\x1b[31m\x7f",  # control bytes (PostgreSQL text cannot hold NUL at all)
    "   ",
    "视频任务-42",
    "a" * 255,  # as long as a task ID can be
]
# RFC 6266 with the shapes this app sends: a quoted ASCII name, optionally an RFC 5987 one.
DISPOSITION = re.compile(
    r"(?P<type>attachment|inline); filename=\"(?P<ascii>[ !#-\[\]-~]*)\""
    r"(?:; filename\*=utf-8''(?P<ext>[A-Za-z0-9!#$&+.^_`|~%-]+))?"
)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def names_in(header: str) -> list[str]:
    """Every file name a browser could take from `header`; fails if it has any other shape."""
    match = DISPOSITION.fullmatch(header)
    assert match, f"unexpected Content-Disposition: {header!r}"
    names = [match["ascii"]]
    if match["ext"]:
        names.append(unquote(match["ext"], errors="strict"))
    return names


def assert_safe(response, extension: str) -> list[str]:
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    names = names_in(header)
    for name in names:
        assert name.endswith("." + extension)
        assert not re.search(r'[\x00-\x1f\x7f/\\"]', name)
        assert name not in ("." + extension, "evil.html")
        assert len(name) <= 130
    return names


@pytest.mark.parametrize("external_id", HOSTILE)
def test_job_page_downloads_survive_hostile_task_ids(viewer_client, accounts, external_id):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id=external_id, subtitles=SRT, words=WORDS
    )
    srt = viewer_client.get(reverse("job-srt", args=[job.code]))
    assert_safe(srt, "srt")
    assert srt.content.decode() == SRT
    assert_safe(viewer_client.get(reverse("job-words-vtt", args=[job.code])), "vtt")
    assert_safe(viewer_client.get(reverse("job-subtitles-vtt", args=[job.code])), "vtt")


@pytest.mark.parametrize("name", HOSTILE)
def test_share_downloads_survive_hostile_job_names(operator, accounts, name):
    job = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="t", name=name, subtitles=SRT, words=WORDS
    )
    _, token = share_create(job=job, user=operator)
    assert_safe(Client().get(reverse("shared-srt", args=[token])), "srt")
    assert_safe(Client().get(reverse("shared-words-vtt", args=[token])), "vtt")
    assert_safe(Client().get(reverse("shared-subtitles-vtt", args=[token])), "vtt")


def test_ordinary_and_unicode_names_are_kept(viewer_client, accounts):
    plain = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-0042", subtitles=SRT
    )
    response = viewer_client.get(reverse("job-srt", args=[plain.code]))
    assert response["Content-Disposition"] == 'attachment; filename="ivh-0042.srt"'

    chinese = Job.objects.create(
        account=accounts["tencent_ivh"], external_id="视频任务-42", subtitles=SRT
    )
    names = assert_safe(viewer_client.get(reverse("job-srt", args=[chinese.code])), "srt")
    assert names == ["42.srt", "视频任务-42.srt"]


def test_an_injected_filename_parameter_stays_inside_the_name(viewer_client, accounts):
    job = Job.objects.create(
        account=accounts["tencent_ivh"],
        external_id="\";filename*=UTF-8''evil.html;x=",
        subtitles=SRT,
    )
    header = viewer_client.get(reverse("job-srt", args=[job.code]))["Content-Disposition"]
    assert header.count("filename*=") <= 1
    assert all("evil.html" not in name or name.endswith(".srt") for name in names_in(header))
