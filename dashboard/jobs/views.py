"""The job pages: the list, a job's page and its files, tracking and submitting. Views stay
thin: access check, a read from jobs.selectors, template; workflows live in jobs.services.
HTMX requests get the page's partial, and polls that find nothing new get a 204 (or 286
once a job is finished, which stops htmx polling)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dashboard import downloads
from dashboard.jobs import columns, export, history, presenters, timings
from dashboard.jobs.forms import JobFilterForm, TrackForm, negated_params
from dashboard.jobs.live import detail_token, media_signature, poll_answer
from dashboard.jobs.payload import payload_json, raw_preview
from dashboard.jobs.submit_form import VoiceSeparationForm
from dashboard.paging import keyset_param, parse_keyset
from dashboard.requests import AuthenticatedHtmxRequest, AuthenticatedHttpRequest
from jobs import selectors, services
from jobs.media import media_probe
from jobs.models import Account, Job, TrackBatch, TrackItem
from jobs.providers.base import ProviderError, State
from jobs.services.audit import Via

PAGE_SIZE = 50


def job_for_user(request: HttpRequest, code: str) -> Job:
    """The job behind `code` if this user may see it; 404 otherwise."""
    job: Job = get_object_or_404(Job.objects.select_related("account"), code=code)
    return job


def _params(request: HttpRequest, *, without: tuple[str, ...]) -> dict[str, str]:
    """The query's non-empty parameters (the last value of each) but those `without`."""
    return {k: str(v) for k, v in request.GET.items() if k not in without and v}


# --- job list -----------------------------------------------------------------------


def _invalid_filters(request: HttpRequest, form: JobFilterForm) -> HttpResponse:
    # Never the unfiltered list under filters that look applied: say what is wrong.
    context = {"form": form, "invalid": True, "clearable": True}
    return render(request, "jobs/list.html", context, status=400)


@permission_required("jobs.view_job", raise_exception=True)
def job_list(request: AuthenticatedHtmxRequest) -> HttpResponse:
    token = selectors.list_token()
    if request.htmx and request.GET.get("v") == token:
        return HttpResponse(status=204)
    if (negated := negated_params(request.GET)) is not None:
        # "Provider is not X" from the form: the list's own parameter for it, in the URL.
        kept = {k: v for k, v in negated.items() if v and k not in ("v", "after")}
        return redirect(reverse("job-list") + ("?" + urlencode(kept) if kept else ""))
    form = JobFilterForm(request.GET)
    if not form.is_valid():
        return _invalid_filters(request, form)
    counts = selectors.job_state_counts(form.filters)
    sort = form.order
    cursor = parse_keyset(request.GET.get("after", ""), timed=sort.timed)
    jobs = selectors.job_list_rows(form.filter(Job.objects.all()), sort)
    size = form.filters.get("per_page") or PAGE_SIZE
    page, has_next = selectors.job_page(jobs, sort=sort, after=cursor, size=size)
    params = _params(request, without=("v", "after"))
    next_url = None
    if has_next:
        last = page[-1]
        key = last.sort_key  # type: ignore[attr-defined]  # annotated by jobs.listing
        next_url = "?" + urlencode({**params, "after": keyset_param(key, last.pk)})
    live_params = _params(request, without=("v",))
    kept = {k: v for k, v in params.items() if k in form.fields}  # what a saved view keeps
    failed = counts.counts.get(State.FAILED, 0)
    accounts = selectors.account_filter(Account.objects.all(), form.filters)
    context = {
        "form": form,
        "rows": [presenters.JobRow(job) for job in page],
        "tabs": presenters.state_tabs(counts, form.current_state, params),
        "failed_count": (f"{failed}+" if counts.cap else failed) if failed else 0,
        "health": presenters.list_health(accounts),
        "next_url": next_url,
        "export_url": reverse("job-list-csv") + ("?" + urlencode(params) if params else ""),
        "first_page_url": "?" + urlencode(params) if cursor else None,
        "live_url": "?" + urlencode({**live_params, "v": token}),
        "filtered": form.active,
        "clearable": form.any_set,
        "any_jobs": bool(counts.counts) or Job.objects.exists(),
        "query": urlencode(kept),
        "filter_params": params,
        "matching": presenters.matching_label(counts, form.current_state),
        "columns": columns.sort_headers(sort, params),
        "default_order_url": None if sort.is_default else columns.default_order_url(params),
        "page_sizes": columns.page_sizes(size, params),
    }
    template = "jobs/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#live"
    else:  # outside the live part: a poll does not read them
        context["saved_views"] = presenters.saved_view_links(request.user, kept)
    return render(request, template, context)


@permission_required("jobs.view_job", raise_exception=True)
@require_safe
def job_list_csv(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Every job the list shows under the same query string, as a CSV download (the
    filters only: no page cursor). Bad filters get the list page with their errors."""
    form = JobFilterForm(request.GET)
    if not form.is_valid():
        return _invalid_filters(request, form)
    # Spreadsheets are who opens this file: the BOM makes Excel read it as UTF-8.
    filters = {name: value for name, value in request.GET.items() if value}
    jobs = form.filter(Job.objects.all())
    return export.csv_response(
        request, jobs, sort=form.order, bom=True, via=Via.WEB, filters=filters
    )


# --- job detail -----------------------------------------------------------------------


@permission_required("jobs.view_job", raise_exception=True)
def job_detail(request: AuthenticatedHtmxRequest, code: str) -> HttpResponse:
    job = job_for_user(request, code)
    polled = bool(request.htmx) and not request.htmx.boosted and "v" in request.GET
    token, media = detail_token(job), media_signature(job)
    if polled and (answer := poll_answer(job, token=token, media=media, asked=request.GET)):
        return answer
    can_operate = request.user.has_perm("jobs.operate_job")
    context = {
        "job": job,
        "view": presenters.JobDetail(job, history.History(job)),
        "can_operate": can_operate,
        "cancel_refusal": services.cancel_refusal(job) if can_operate else "",
        "resubmit_refusal": services.resubmit_refusal(job) if can_operate else "",
        "live_url": "?" + urlencode({"v": token, "m": media}),
        "raw": None if polled else raw_preview(job.raw),
        # A poll answer also carries the timeline and the failure card (out-of-band swaps).
        "oob": polled,
    }
    return render(request, "jobs/detail.html" + ("#live" if polled else ""), context)


@permission_required("jobs.view_job", raise_exception=True)
@require_safe
def job_events(request: AuthenticatedHtmxRequest, code: str) -> HttpResponse:
    """A page of the job's timeline, older than the event `before` (the newest without):
    the items appended under the job page's timeline for htmx, a page of its own else."""
    job = job_for_user(request, code)
    before = None
    if "before" in request.GET:
        try:
            before = history.event_of(job, request.GET["before"])
        except ValueError:
            return HttpResponseBadRequest("before must be an event id")
        if before is None:
            raise Http404("no such event")
    page = history.event_page(job, before=before)
    context = {
        "job": job,
        "before": before,
        "events": page,
        "entries": presenters.timeline_entries(page.events),
    }
    template = "jobs/events.html" + ("#page" if request.htmx else "")
    return render(request, template, context)


@permission_required("jobs.view_job", raise_exception=True)
def job_srt(request: HttpRequest, code: str) -> HttpResponse:
    job = job_for_user(request, code)
    if not job.subtitles:
        raise Http404("no subtitles")
    return downloads.subtitle_file(
        job.subtitles, name=job.external_id, extension="srt", content_type="application/x-subrip"
    )


@permission_required("jobs.view_job", raise_exception=True)
def job_vtt(request: HttpRequest, code: str, source: str) -> HttpResponse:
    """WebVTT from the stored SRT (for the player's <track>) or from the word timings."""
    job = job_for_user(request, code)
    cues = timings.subtitle_cues(job) if source == "subtitles" else timings.word_cues(job)
    if not cues:
        raise Http404("no timings")
    return downloads.subtitle_file(
        timings.webvtt(cues),
        name=f"{job.external_id}-{source}",
        extension="vtt",
        content_type="text/vtt",
        as_attachment=source != "subtitles",  # the player's <track> reads it in place
    )


@permission_required("jobs.view_job", raise_exception=True)
@require_safe
def job_payload(request: HttpRequest, code: str) -> HttpResponse:
    """The raw provider payload in full (the page shortens long lists)."""
    job = job_for_user(request, code)
    return downloads.subtitle_file(
        payload_json(job.raw),
        name=f"{job.external_id}-payload",
        extension="json",
        content_type="application/json",
    )


@permission_required("jobs.view_job", raise_exception=True)
@require_safe
def job_media_check(request: HttpRequest, code: str) -> JsonResponse:
    """What the media host answers, for the player to show when the media does not load."""
    job = job_for_user(request, code)
    if not job.media_url:
        raise Http404("no media")
    probe = media_probe(job.media_url)
    response = JsonResponse({"verdict": probe.verdict, "message": probe.message})
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_POST
@permission_required("jobs.operate_job", raise_exception=True)
def job_refresh(request: HttpRequest, code: str) -> HttpResponse:
    job = job_for_user(request, code)
    services.job_request_refresh(job=job, user=request.user)
    messages.info(request, "Refresh requested; its outcome appears on this page.")
    return redirect("job-detail", code=job.code)


@require_http_methods(["GET", "POST"])
@permission_required("jobs.operate_job", raise_exception=True)
def job_cancel(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    """Confirm (GET), then ask the provider to cancel the job (POST) and refresh it."""
    job = job_for_user(request, code)
    refusal = services.cancel_refusal(job)
    if request.method == "POST" and not refusal:
        (result,) = services.jobs_cancel(
            account=job.account, jobs=[job], user=request.user, via=Via.WEB
        )
        if result.accepted:
            services.job_request_refresh(job=job, user=request.user)
            messages.success(request, "The provider accepted the cancel; the job is refreshed.")
        else:
            messages.error(request, f"Not cancelled: {result.message}")
        return redirect("job-detail", code=job.code)
    status = 409 if request.method == "POST" else 200
    return render(request, "jobs/cancel.html", {"job": job, "refusal": refusal}, status=status)


def _edit_url(job: Job) -> str:
    """The submit form, prefilled to resubmit `job` with edited parameters."""
    return f"{reverse('submit-voice-separation')}?{urlencode({'from': str(job.code)})}"


@require_http_methods(["GET", "POST"])
@permission_required("jobs.operate_job", raise_exception=True)
def job_resubmit(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    """Confirm (GET), then submit the job again with its parameters (POST) and open the
    new job. A refusal is the confirm page saying why (409 after a POST)."""
    job = job_for_user(request, code)
    if request.method == "POST":
        try:
            later = services.job_resubmit(job=job, user=request.user, via=Via.WEB)
        except services.ResubmitRefused:
            pass  # said below, as on the GET
        except services.InvalidInput as exc:
            messages.error(request, f"Not resubmitted: {exc}. Edit the parameters and try again.")
            return redirect(_edit_url(job))
        except ProviderError as exc:
            label = job.account.provider_label
            messages.error(request, f"Not resubmitted: {label} refused the job: {exc}")
            return redirect("job-detail", code=job.code)
        else:
            messages.success(request, f"Resubmitted {job.external_id} as this job; it is tracked.")
            return redirect("job-detail", code=later.code)
    context = {
        "job": job,
        "refusal": services.resubmit_refusal(job),
        "form": VoiceSeparationForm(source=job),
        "edit_url": _edit_url(job),
    }
    status = 409 if request.method == "POST" else 200
    return render(request, "jobs/resubmit.html", context, status=status)


@require_POST
@permission_required("jobs.operate_job", raise_exception=True)
def job_watch(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    job = job_for_user(request, code)
    if request.POST.get("watch") == "stop":
        services.job_stop_watching(job=job, user=request.user)
    else:
        services.job_resume_watching(job=job, user=request.user)
    return redirect("job-detail", code=job.code)


# --- tracking -------------------------------------------------------------------------


def _track_batch(raw: str) -> TrackBatch | None:
    try:
        code = uuid.UUID(raw)
    except (ValueError, AttributeError):
        return None
    return TrackBatch.objects.select_related("account").filter(code=code).first()


def _track_url(batch: TrackBatch) -> str:
    return f"{reverse('track')}?{urlencode({'batch': str(batch.code)})}"


# Before a paste's first check this long, say that the poller may not be running.
TRACK_STALL_SECONDS = 30


def _track_waiting(progress: services.TrackProgress) -> str:
    """Why a paste's checks are not moving, when we know: "" otherwise."""
    if progress.done:
        return ""
    account, now = progress.batch.account, timezone.now()
    if not account.enabled:
        return f"{account.name} is disabled, so its jobs are not polled; enable it in the admin."
    if account.retry_at and account.retry_at > now:
        return (
            f"{account.name} is paused until {timezone.localtime(account.retry_at):%H:%M:%S} "
            f"after an error ({account.last_error[:200]}); the checks resume then."
        )
    waited = (now - progress.batch.created_at).total_seconds()
    if not progress.checked and waited > TRACK_STALL_SECONDS:
        return (
            f"No check has run in {int(waited)} s: the refresh worker may not be running "
            "(manage.py qcluster)."
        )
    return ""


@permission_required("jobs.operate_job", raise_exception=True)
def track(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Paste task IDs; they are watched at once and checked in the background.

    A valid paste becomes a TrackBatch and redirects to its page (`?batch=`), whose
    results panel polls until every ID has had its first check from the refresh engine,
    within the account's rate budget. "Track anyway" watches the IDs whose check failed.
    """
    batch = _track_batch(request.GET.get("batch", ""))
    if request.method == "POST" and "anyway" in request.POST:
        batch = _track_batch(request.POST["anyway"])
        if batch is None:
            raise Http404("no such paste")
        count = services.track_batch_track_anyway(batch=batch)
        messages.success(
            request, f"Watching {count} more without a check; their next poll verifies them."
        )
        return redirect(_track_url(batch))
    initial = {"account": request.GET.get("account") or (batch.account.code if batch else None)}
    form = TrackForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        batch = services.track_batch_create(
            account=form.cleaned_data["account"],
            external_ids=form.cleaned_data["task_ids"],
            user=request.user,
        )
        return redirect(_track_url(batch))
    polled = bool(request.htmx) and batch is not None and "v" in request.GET
    if polled and batch is not None:
        # Cheap question first: polls come every second while a paste is being checked.
        pending = batch.items.filter(outcome=TrackItem.Outcome.PENDING).count()
        if pending and request.GET["v"] == str(batch.items.count() - pending):
            return HttpResponse(status=204)
    progress = services.track_batch_progress(batch=batch) if batch else None
    context = {
        "form": form,
        "progress": progress,
        "waiting": _track_waiting(progress) if progress else "",
        "oob": polled,
    }
    return render(request, "jobs/track.html" + ("#results" if polled else ""), context)


def _resubmit_source(request: HttpRequest) -> Job | None:
    """The job `?from=` names, which the submit form then resubmits (404: no such job)."""
    raw = request.GET.get("from", "")
    if not raw:
        return None
    try:
        code = uuid.UUID(raw)
    except ValueError:
        raise Http404("from must be a job's code") from None
    return job_for_user(request, str(code))


@permission_required("jobs.operate_job", raise_exception=True)
def submit_voice_separation(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Submit a job; with `?from=<job code>`, resubmit that job with the form's (edited)
    parameters, prefilled with those it was submitted with, on its account."""
    source = _resubmit_source(request)
    form = VoiceSeparationForm(request.POST or None, source=source)
    refused = False
    if request.method == "POST" and form.is_valid():
        account, params = form.cleaned_data["account"], form.submit_params()
        try:
            if source is not None:
                job = services.job_resubmit(
                    job=source, user=request.user, via=Via.WEB, params=params
                )
            else:
                job = services.job_submit(account=account, params=params, user=request.user)
        except services.ResubmitRefused:
            refused = True  # the page says why, as on the GET
        except services.InvalidInput as exc:
            # The form checks what the adapter checks; this is the backstop, still placed
            # next to the field the adapter names.
            form.add_error(form.field_for_error(str(exc)), f"Not sent: {exc}")
        except ProviderError as exc:
            form.add_error(None, f"{account.provider_label} refused the job: {exc}")
        else:
            done = f"Resubmitted {source.external_id} as this job" if source else "Job submitted"
            messages.success(request, f"{done}; it is tracked.")
            return redirect("job-detail", code=job.code)
    context = {
        "form": form,
        "source": source,
        "refusal": services.resubmit_refusal(source) if source else "",
    }
    return render(request, "jobs/submit.html", context, status=409 if refused else 200)
