"""A finished job's subtitles, fetched once through the outbound guard."""

from __future__ import annotations

import srt
from django.conf import settings
from django.db.models import F

from jobs import http
from jobs.models import Job


def job_fetch_subtitles(*, job_id: int) -> None:
    """Fetch a finished job's SRT once through the SSRF guard and store it.

    A malformed file keeps the raw text and an error; a failed fetch keeps the error.
    """
    job = Job.objects.only("subtitles_url").get(pk=job_id)
    if not job.subtitles_url:
        return
    text, error = "", ""
    try:
        response = http.fetch_public(
            job.subtitles_url,
            max_bytes=SUBTITLES_MAX_BYTES,
            allow_loopback=settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH,
        )
        text = response.body.decode("utf-8-sig", errors="replace")
        list(srt.parse(text))
    except http.OutboundError as exc:
        error = f"could not fetch subtitles: {exc}"[:255]
    except (srt.SRTParseError, ValueError) as exc:
        error = f"subtitles are not valid SRT: {type(exc).__name__}"[:255]
    Job.objects.filter(pk=job_id).update(
        subtitles=text, subtitles_error=error, version=F("version") + 1
    )


SUBTITLES_MAX_BYTES = 1024 * 1024
