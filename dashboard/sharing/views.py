"""Share links: the operator's panel on a job page, and the public read-only job page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dashboard import downloads
from dashboard.jobs import timings
from dashboard.jobs.live import detail_token, media_signature, poll_answer
from dashboard.jobs.views import job_for_user
from dashboard.requests import AuthenticatedHtmxRequest, HtmxHttpRequest
from dashboard.sharing.forms import ShareLinkForm
from dashboard.sharing.presenters import PublicJob
from jobs import ratelimit
from jobs.freshness import freshness
from jobs.models import Job, ShareLink
from jobs.services import InvalidInput, sharing

PANEL_TEMPLATE = "share/links.html"
PANEL_LINKS = 20
PUBLIC_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
}


def share_panel_context(
    job: Job, *, form: ShareLinkForm | None = None, url: str = ""
) -> dict[str, Any]:
    """The context of the share-panel partial (templates/share/links.html)."""
    links = job.share_links.select_related("created_by").order_by("-created_at")[:PANEL_LINKS]
    return {
        "job": job,
        "share_form": form or ShareLinkForm(),
        "share_links": links,
        "share_url": url,
    }


def _panel(request: HtmxHttpRequest, job: Job, **context: Any) -> HttpResponse:
    template = PANEL_TEMPLATE + ("#share-panel" if request.htmx else "")
    response = render(request, template, share_panel_context(job, **context))
    if context.get("url"):
        # The one response that carries the token: keep it out of every cache.
        patch_cache_control(response, private=True, no_store=True)
    return response


@permission_required("jobs.operate_job", raise_exception=True)
@require_http_methods(["GET", "POST"])
def share_links(request: AuthenticatedHtmxRequest, code: str) -> HttpResponse:
    job = job_for_user(request, code)
    if request.method != "POST":
        return _panel(request, job)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        return _panel(request, job, form=form)
    try:
        _, token = sharing.share_create(job=job, user=request.user, days=form.cleaned_data["days"])
    except InvalidInput as exc:
        form.add_error("days", str(exc))
        return _panel(request, job, form=form)
    url = request.build_absolute_uri(reverse("shared-job", args=[token]))
    return _panel(request, job, url=url)


@permission_required("jobs.operate_job", raise_exception=True)
@require_POST
def share_revoke(request: AuthenticatedHtmxRequest, code: str, link: str) -> HttpResponse:
    job = job_for_user(request, code)
    sharing.share_revoke(link=get_object_or_404(ShareLink, code=link, job=job), user=request.user)
    if request.htmx:
        return _panel(request, job)
    return redirect(reverse("job-detail", args=[job.code]) + "#share-panel")


# --- the public page ------------------------------------------------------------------


def _public(response: HttpResponse) -> HttpResponse:
    for header, value in PUBLIC_HEADERS.items():
        response[header] = value
    return response


def _shared_link(
    request: HttpRequest, token: str, *, count_use: bool = True
) -> ShareLink | HttpResponse:
    """The usable link behind `token`, or the response refusing it: the share not-found page
    (404) for unknown, expired and revoked tokens, 429 while this client's failures are
    throttled. The token is looked up first: a valid link never waits for others' guesses."""
    link = sharing.share_resolve(token, count_use=count_use)
    if link is None:
        # Only failures are throttled: a valid link never waits for others' guesses.
        retry_after = sharing.share_failure_hit(ratelimit.client_ip(request))
        if retry_after is not None:
            response = render(request, "share/not_found.html", {"throttled": True}, status=429)
            response["Retry-After"] = str(retry_after)
            return _public(response)
        return _public(render(request, "share/not_found.html", status=404))
    return link


def _title(job: Job) -> str:
    return job.name or (f"{job.kind} job" if job.kind else "Shared job")


@login_not_required
@require_safe
def shared_job(request: HtmxHttpRequest, token: str) -> HttpResponse:
    # The page's own polls read the database like the job page's; they are not new uses.
    polled = bool(request.htmx) and not request.htmx.boosted and "v" in request.GET
    link = _shared_link(request, token, count_use=not polled)
    if isinstance(link, HttpResponse):
        if polled:  # revoked or expired under an open page: reload it to say so
            # By hand: HttpResponseClientRefresh is an empty 200, and this answer stays
            # the not-found page with its status.
            link["HX-Refresh"] = "true"
        return link
    job = link.job
    # The job page's token: a link holder learns within one poll that the data went stale.
    token_now, media = detail_token(job), media_signature(job)
    if polled and (answer := poll_answer(job, token=token_now, media=media, asked=request.GET)):
        return _public(answer)
    context = {
        "job": job,
        "view": PublicJob(job),
        "title": _title(job),
        "token": token,
        "fresh": freshness(job),
        "live_url": "?" + urlencode({"v": token_now, "m": media}),
    }
    template = "share/job.html" + ("#live" if polled else "")
    return _public(render(request, template, context))


def _no_file(what: str) -> HttpResponse:
    return _public(
        HttpResponse(
            f"This job has no {what}.", status=404, content_type="text/plain; charset=utf-8"
        )
    )


@login_not_required
@require_safe
def shared_srt(request: HttpRequest, token: str) -> HttpResponse:
    link = _shared_link(request, token)
    if isinstance(link, HttpResponse):
        return link
    if not link.job.subtitles:
        return _no_file("subtitles")
    return _public(
        downloads.subtitle_file(
            link.job.subtitles,
            name=_title(link.job),
            extension="srt",
            content_type="application/x-subrip",
        )
    )


@login_not_required
@require_safe
def shared_vtt(request: HttpRequest, token: str, source: str) -> HttpResponse:
    """WebVTT from the stored SRT (the player's <track>) or from the word timings."""
    # The <track> is fetched with every page load: that is not a use of its own.
    link = _shared_link(request, token, count_use=source != "subtitles")
    if isinstance(link, HttpResponse):
        return link
    job = link.job
    cues = timings.subtitle_cues(job) if source == "subtitles" else timings.word_cues(job)
    if not cues:
        return _no_file("timings")
    return _public(
        downloads.subtitle_file(
            timings.webvtt(cues),
            name=f"{_title(job)}-{source}",
            extension="vtt",
            content_type="text/vtt",
            as_attachment=source != "subtitles",
        )
    )
