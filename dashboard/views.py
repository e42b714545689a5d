"""The operator pages. Views stay thin: access check, query, template; workflows live in
jobs.services. HTMX requests get the page's partial, and polls that find nothing new get
a 204 (or 286 once a job is finished, which stops htmx polling)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import connection
from django.db.models import Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe
from django_q.tasks import async_task

from dashboard import downloads, presenters
from dashboard.forms import JobFilterForm, TrackForm, VoiceSeparationForm
from jobs import services
from jobs.freshness import freshness
from jobs.media import media_probe
from jobs.models import (
    STATE_CHOICES,
    Account,
    Job,
    JobEvent,
    JobStateCount,
    TrackBatch,
    TrackItem,
)
from jobs.providers.base import ProviderError, State
from jobs.services.usage import usage_last_hour

PAGE_SIZE = 50
STOP_POLLING = 286  # htmx stops an `every` poll on this status


def job_for_user(request: HttpRequest, code: str) -> Job:
    """The job behind `code` if this user may see it; 404 otherwise."""
    return get_object_or_404(Job.objects.select_related("account"), code=code)


# --- job list -----------------------------------------------------------------------


# Table names come from our own models; nothing here is user input. The last two columns
# change when an account starts or stops failing (the set of failing accounts, by count
# and sum of ids), so an open list learns within one poll that its data went stale.
TOKEN_SQL = (
    f"SELECT (SELECT MAX(id) FROM {JobEvent._meta.db_table}),"  # noqa: S608
    f" (SELECT MAX(id) FROM {Job._meta.db_table}),"
    f" (SELECT COUNT(*) FROM {Account._meta.db_table} WHERE {{failing}}),"
    f" (SELECT SUM(id) FROM {Account._meta.db_table} WHERE {{failing}})"
).format(failing="enabled AND consecutive_failures > 0")


def list_token() -> str:
    """Changes whenever anything the list shows may have changed: a new event, a new job,
    an account's health, or a new minute (so "updated 2 min ago" figures are refreshed
    now and then)."""
    # One round trip: this runs on every poll of every open list.
    with connection.cursor() as cursor:
        cursor.execute(TOKEN_SQL)
        newest_event, newest_job, failing, failing_ids = cursor.fetchone()
    minute = int(timezone.now().timestamp() // 60)
    return f"{newest_event or 0}.{newest_job or 0}.{failing}-{failing_ids or 0}.{minute}"


def _cursor(raw: str) -> tuple[datetime, int] | None:
    stamp, _, pk = raw.partition("_")
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC), int(pk)
    except (ValueError, OverflowError, OSError):
        return None


@permission_required("jobs.view_job", raise_exception=True)
def job_list(request: HttpRequest) -> HttpResponse:
    token = list_token()
    if request.htmx and request.GET.get("v") == token:
        return HttpResponse(status=204)
    form = JobFilterForm(request.GET)
    if not form.is_valid():
        # Never the unfiltered list under filters that look applied: say what is wrong.
        context = {"form": form, "invalid": True, "clearable": True}
        return render(request, "jobs/list.html", context, status=400)
    counts = form.state_counts()
    last_change = JobEvent.objects.filter(job=OuterRef("pk")).order_by("-at", "-id")
    jobs = (
        form.filter(Job.objects.select_related("account"))
        .annotate(last_change=Subquery(last_change.values("at")[:1]))
        .order_by("-tracked_at", "-id")
    )
    cursor = _cursor(request.GET.get("after", ""))
    if cursor:
        jobs = jobs.filter(Q(tracked_at__lt=cursor[0]) | Q(tracked_at=cursor[0], id__lt=cursor[1]))
    page = list(jobs[: PAGE_SIZE + 1])
    has_next = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    params = {k: v for k, v in request.GET.items() if k not in ("v", "after") and v}
    next_url = None
    if has_next:
        last = page[-1]
        next_url = "?" + urlencode(
            {**params, "after": f"{last.tracked_at.timestamp():.6f}_{last.pk}"}
        )
    live_params = {k: v for k, v in request.GET.items() if k != "v" and v}
    tabs = presenters.state_tabs(counts, form, params, cap=form.count_cap)
    failed = counts.get(State.FAILED, 0)
    context = {
        "form": form,
        "rows": [presenters.JobRow(job) for job in page],
        "tabs": tabs,
        "failed_count": (f"{failed}+" if form.count_cap else failed) if failed else 0,
        "health": presenters.list_health(form.filter_accounts(Account.objects.all())),
        "next_url": next_url,
        "first_page_url": "?" + urlencode(params) if cursor else None,
        "live_url": "?" + urlencode({**live_params, "v": token}),
        "filtered": form.active,
        "clearable": form.any_set,
        "any_jobs": bool(counts) or Job.objects.exists(),
    }
    template = "jobs/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#live"
    return render(request, template, context)


# --- job detail -----------------------------------------------------------------------


@permission_required("jobs.view_job", raise_exception=True)
def job_detail(request: HttpRequest, code: str) -> HttpResponse:
    job = job_for_user(request, code)
    polled = request.htmx and not request.htmx.boosted and "v" in request.GET
    token = detail_token(job)
    if polled and request.GET["v"] == token:
        return HttpResponse(status=STOP_POLLING if job.is_terminal else 204)
    media = _media_signature(job)
    if polled and request.GET.get("m") != media:
        # Media, words or subtitles arrived: the player area is outside the live region,
        # so reload the page once rather than disturb a playing video on every poll.
        return HttpResponse(headers={"HX-Refresh": "true"})
    events = list(job.events.order_by("at", "id"))
    context = {
        "job": job,
        "view": presenters.JobDetail(job, events),
        "can_operate": request.user.has_perm("jobs.operate_job"),
        "live_url": "?" + urlencode({"v": token, "m": media}),
        "raw_json": json.dumps(job.raw, indent=2, ensure_ascii=False, sort_keys=True),
        # A poll answer also carries the timeline and the failure card (out-of-band swaps).
        "oob": polled,
    }
    template = "jobs/detail.html"
    if polled:
        template += "#live"
    return render(request, template, context)


def detail_token(job: Job) -> str:
    """Changes whenever the job page's live parts may have changed: the job (version),
    how fresh its data is (its account's failures and pause, its failed checks, an
    overdue check) and, while it runs, every half minute for the server-side durations."""
    if job.is_terminal:
        return f"{job.version}.final"
    fresh = freshness(job)
    return f"{job.version}.{fresh.token}.{int(timezone.now().timestamp() // 30)}"


def _media_signature(job: Job) -> str:
    return f"{int(bool(job.media_url))}{len(job.words)}{len(job.subtitles)}"


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
    cues = presenters.subtitle_cues(job) if source == "subtitles" else presenters.word_cues(job)
    if not cues:
        raise Http404("no timings")
    return downloads.subtitle_file(
        presenters.webvtt(cues),
        name=f"{job.external_id}-{source}",
        extension="vtt",
        content_type="text/vtt",
        as_attachment=source != "subtitles",  # the player's <track> reads it in place
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
    async_task("jobs.tasks.job_refresh", job.pk, task_name=f"refresh job {job.pk}")
    messages.info(request, "Refresh requested; its outcome appears on this page.")
    return redirect("job-detail", code=job.code)


@require_POST
@permission_required("jobs.operate_job", raise_exception=True)
def job_watch(request: HttpRequest, code: str) -> HttpResponse:
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
    return f"{reverse('track')}?{urlencode({'batch': batch.code})}"


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
def track(request: HttpRequest) -> HttpResponse:
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
    if polled:
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
    template = "jobs/track.html"
    if polled:
        template += "#results"
    return render(request, template, context)


@permission_required("jobs.operate_job", raise_exception=True)
def submit_voice_separation(request: HttpRequest) -> HttpResponse:
    form = VoiceSeparationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = form.cleaned_data["account"]
        try:
            job = services.job_submit(account=account, params=form.submit_params())
        except services.InvalidInput as exc:
            # The form checks what the adapter checks; this is the backstop, still placed
            # next to the field the adapter names.
            form.add_error(form.field_for_error(str(exc)), f"Not sent: {exc}")
        except ProviderError as exc:
            form.add_error(None, f"{account.provider_label} refused the job: {exc}")
        else:
            messages.success(request, "Job submitted and tracked.")
            return redirect("job-detail", code=job.code)
    return render(request, "jobs/submit.html", {"form": form})


# --- accounts health ------------------------------------------------------------------


@permission_required("jobs.view_account", raise_exception=True)
def account_health(request: HttpRequest) -> HttpResponse:
    accounts = list(
        Account.objects.defer("credentials").annotate(
            oldest_poll=Min(
                Coalesce("jobs__last_polled_at", "jobs__tracked_at"),
                filter=~Q(jobs__state__in=[State.SUCCEEDED, State.FAILED, State.CANCELED])
                & Q(jobs__next_poll_at__isnull=False),
            )
        )
    )
    by_state: dict[int, dict[str, int]] = {}
    # The trigger-kept counters, not a count over every job.
    for account_id, state, n in JobStateCount.objects.filter(count__gt=0).values_list(
        "account_id", "state", "count"
    ):
        by_state.setdefault(account_id, {})[state] = n
    used = usage_last_hour()
    rows = [
        presenters.AccountHealth(account, by_state.get(account.pk, {}), used.get(account.pk))
        for account in accounts
    ]
    return render(
        request,
        "accounts/health.html",
        {"rows": rows, "states": [s for s, _ in STATE_CHOICES], "now": timezone.now()},
    )
