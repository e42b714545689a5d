"""What a poll of a job's live region compares, for the job page and the share page alike:
the token of what it shows, the signature of its media, and the answer to a poll that needs
no new render (204 while unchanged, 286 once finished: htmx then stops polling)."""

from __future__ import annotations

from django.http import HttpResponse, QueryDict
from django.utils import timezone
from django_htmx.http import HttpResponseClientRefresh, HttpResponseStopPolling

from jobs.freshness import freshness
from jobs.models import Job


def detail_token(job: Job) -> str:
    """Changes whenever the job page's live parts may have changed: the job (version),
    how fresh its data is (its account's failures and pause, its failed checks, an
    overdue check) and, while it runs, every half minute for the server-side durations."""
    if job.is_terminal:
        return f"{job.version}.final"
    fresh = freshness(job)
    return f"{job.version}.{fresh.token}.{int(timezone.now().timestamp() // 30)}"


def media_signature(job: Job) -> str:
    """Changes when a media URL, words or subtitles arrive."""
    return f"{int(bool(job.media_url))}{len(job.words)}{len(job.subtitles)}"


def poll_answer(job: Job, *, token: str, media: str, asked: QueryDict) -> HttpResponse | None:
    """The answer to a live-region poll that asked with the query `asked` ({"v": token,
    "m": media} from its live URL), or None when the region must be rendered anew."""
    if asked.get("v") == token:
        return HttpResponseStopPolling() if job.is_terminal else HttpResponse(status=204)
    if asked.get("m") != media:
        # Media, words or subtitles arrived: the player area is outside the live region,
        # so reload the page once rather than disturb a playing video on every poll.
        return HttpResponseClientRefresh()
    return None
