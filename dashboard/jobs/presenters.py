"""What the job pages show, computed from models in one place: rows, tabs, ETAs, timelines.

Templates stay free of logic and every value here is plain data (escaped on output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import capfirst

from dashboard.humanize import human_duration, human_range
from dashboard.jobs.history import EventPage, History
from dashboard.jobs.timings import (
    Cue,
    SentenceView,
    WordChip,
    sentences,
    subtitle_cues,
    word_timings,
)
from jobs import freshness as freshness_of
from jobs import scheduling, selectors
from jobs.models import Account, Job, JobEvent
from jobs.providers.base import UNKNOWN_FAILURE, Explanation, IOField, State
from jobs.services.saved_views import saved_view_query

STATE_ICONS: dict[str, str] = {
    State.QUEUED: "◷",
    State.RUNNING: "▶",
    State.PAUSED: "⏸",
    State.SUCCEEDED: "✓",
    State.FAILED: "✕",
    State.CANCELED: "⊘",
    State.UNKNOWN: "?",
}

# Tabs across the top of the job list, in UI.md's order: one per state, so each tab's
# link shows exactly the jobs its count counts and the tabs add up to All. States only
# some providers have get a tab only while there are such jobs (or it is selected).
TABS = (
    ("", "All"),
    (State.QUEUED, "Queued"),
    (State.RUNNING, "Running"),
    (State.FAILED, "Failed"),
    (State.SUCCEEDED, "Succeeded"),
    (State.CANCELED, "Canceled"),
    (State.PAUSED, "Paused"),
    (State.UNKNOWN, "Unknown"),
)
TABS_WHEN_PRESENT = frozenset({State.PAUSED, State.UNKNOWN})


def explain(job: Job) -> Explanation | None:
    if job.state != State.FAILED or not job.failure_code:
        return None
    return job.account.adapter_class.explain_failure(job.failure_code, job.failure_message)


@dataclass
class JobRow:
    job: Job

    @cached_property
    def explanation(self) -> Explanation | None:
        explanation = explain(self.job)
        return None if explanation is UNKNOWN_FAILURE else explanation

    @property
    def icon(self) -> str:
        return STATE_ICONS.get(self.job.state, "?")

    @property
    def created(self) -> datetime:
        return self.job.created_at or self.job.tracked_at

    @property
    def last_change(self) -> datetime:
        """When something visible last changed: the newest event, else when Clapboard
        started tracking the job."""
        return self.job.changed_at or self.job.tracked_at

    @cached_property
    def freshness(self) -> freshness_of.Freshness:
        """Whether the row's numbers are current, by the same rule as the job page (no
        query: the list loads the account with the job)."""
        return freshness_of.freshness(self.job)


def state_tabs(
    state_counts: selectors.StateCounts, current: str, params: dict[str, str]
) -> list[dict[str, Any]]:
    """The state tabs, `current` selected. When the counts are capped they are only a
    sample of `cap` matches (a broad search stops counting there): then All reads "cap+",
    a state seen in the sample "n+" and one not seen "—", never an exact-looking number."""
    counts, cap = state_counts.counts, state_counts.cap
    capped = cap is not None
    tabs = []
    for state, label in TABS:
        count = counts.get(state, 0) if state else sum(counts.values())
        if state in TABS_WHEN_PRESENT and not count and current != state and not capped:
            continue
        query = {k: v for k, v in params.items() if k != "state"}
        if state:
            query["state"] = state
        shown: int | str = count
        if capped:
            shown = f"{cap}+" if not state else f"{count}+" if count else "—"
        tabs.append(
            {
                "state": state,
                "label": label,
                "count": shown,
                "selected": current == state,
                # Red means "look here": only a Failed tab with failed jobs in it.
                "attention": state == State.FAILED and count > 0,
                "url": "?" + urlencode(query) if query else ".",
            }
        )
    return tabs


def matching_label(state_counts: selectors.StateCounts, current: str) -> str:
    """How many jobs the list's filter matches, for "select all N matching": "1,000+"
    when the counts are capped (a lower bound, never an exact-looking number)."""
    counts = state_counts.counts
    count = counts.get(current, 0) if current else sum(counts.values())
    if state_counts.cap is not None:  # "" when the sample saw none: the count is unknown
        return f"{count if current else state_counts.cap:,}+" if count else ""
    return f"{count:,}"


@dataclass(frozen=True)
class ListHealth:
    """Whether the list's data is as fresh as the page: accounts whose checks fail."""

    failing: list[Account]

    @property
    def oldest_ok(self) -> datetime | None:
        """The oldest last good answer among failing accounts (None: one never had one)."""
        times = [account.last_ok_at for account in self.failing]
        known = [at for at in times if at is not None]
        return None if len(known) < len(times) else min(known, default=None)

    @property
    def never_ok(self) -> bool:
        return any(account.last_ok_at is None for account in self.failing)

    @property
    def paused_until(self) -> datetime | None:
        now = timezone.now()
        times = [a.retry_at for a in self.failing if a.retry_at and a.retry_at > now]
        return max(times, default=None)


def list_health(accounts: QuerySet[Account]) -> ListHealth:
    """`accounts` (already narrowed to the list's provider/account filter) reduced to the
    enabled ones whose last checks failed."""
    return ListHealth(selectors.failing_accounts(accounts))


# --- detail ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    text: str
    remaining: timedelta | None = None


def estimate(job: Job, history: History | None, now: datetime) -> Estimate:
    """ETA from the job's own history: progress rate while running, queue movement while
    queued. Says so when there is not enough history (or none was read: `history` None)."""
    if job.is_terminal:
        return Estimate("finished")
    if job.state == State.RUNNING:
        ends = history.progress_ends if history else None
        points = [scheduling.ProgressPoint(p.at, p.value) for p in ends or ()]
        remaining = scheduling.eta(points, now)
        if remaining is None:
            return Estimate("not enough progress history yet")
        return Estimate("finishes in about " + human_duration(remaining), remaining)
    if job.state == State.QUEUED:
        ends = history.queue_ends if history else None
        if ends and ends[0].value > ends[1].value:
            (t0, p0), (t1, p1) = (ends[0].at, ends[0].value), (ends[1].at, ends[1].value)
            rate = (p0 - p1) / max(1.0, (t1 - t0).total_seconds())  # places per second
            remaining = timedelta(seconds=p1 / rate) if rate > 0 else None
            if remaining is not None:
                return Estimate("starts in about " + human_duration(remaining), remaining)
        return Estimate("not enough queue history yet")
    return Estimate("no estimate while " + job.get_state_display().lower())


@dataclass(frozen=True)
class Observed:
    """A time the provider gave, or else the one Clapboard first saw (`observed`)."""

    at: datetime | None
    observed: bool = False
    label: str = ""


@dataclass
class TimelineEntry:
    """One line of the timeline: an event, or a run of progress ticks shown as one
    ("Running 10 → 62 %, 6 updates") whose `ticks` (newest first) expand on click."""

    event: JobEvent
    ticks: list[JobEvent] = field(default_factory=list)

    @property
    def is_ticks(self) -> bool:
        return len(self.ticks) > 1

    @property
    def anchor(self) -> str:
        """An id that stays the same while the run grows (its oldest tick's)."""
        return f"ticks-{self.ticks[-1].pk}" if self.ticks else f"event-{self.event.pk}"

    @property
    def first_progress(self) -> int | None:
        return self.ticks[-1].progress if self.ticks else self.event.progress


def _is_tick(event: JobEvent) -> bool:
    return (
        event.kind == JobEvent.Kind.STATUS
        and event.state == State.RUNNING
        and event.progress is not None
        and not (event.note or event.failure_code or event.queue_position is not None)
    )


def timeline_entries(events: list[JobEvent]) -> list[TimelineEntry]:
    """The events newest first, consecutive progress ticks of one provider state folded
    into one entry."""
    entries: list[TimelineEntry] = []
    for event in reversed(events):
        last = entries[-1] if entries else None
        if (
            last is not None
            and _is_tick(event)
            and _is_tick(last.event)
            and event.provider_state == last.event.provider_state
        ):
            last.ticks.append(event)
            continue
        entries.append(TimelineEntry(event, [event] if _is_tick(event) else []))
    return entries


@dataclass
class JobDetail:
    """The job page. `history` reads its events (None: the share page, which shows none)."""

    job: Job
    history: History | None = None

    @cached_property
    def estimate(self) -> Estimate:
        return estimate(self.job, self.history, timezone.now())

    @cached_property
    def freshness(self) -> freshness_of.Freshness:
        return freshness_of.freshness(self.job)

    @cached_property
    def io_fields(self) -> list[tuple[str, list[IOField]]]:
        """The job's inputs, then its outputs, as the provider's stored payload gives them."""
        job = self.job
        fields = job.account.adapter_class.io_fields(job.raw or {}, endpoint=job.account.endpoint)
        sections = (("input", "Inputs"), ("output", "Outputs"))
        grouped = [(title, [f for f in fields if f.section == key]) for key, title in sections]
        return [(title, group) for title, group in grouped if group]

    @cached_property
    def events(self) -> EventPage:
        """The newest page of the timeline."""
        return self.history.page if self.history else EventPage([], 0)

    @cached_property
    def timeline_entries(self) -> list[TimelineEntry]:
        return timeline_entries(self.events.events)

    @property
    def last_refresh(self) -> JobEvent | None:
        """The latest "Refresh now" outcome, while it is recent enough to be news."""
        return self.history.last_refresh if self.history else None

    @property
    def refresh_failed(self) -> bool:
        note = self.last_refresh.note if self.last_refresh else ""
        return note.startswith(("Refresh failed", "Refresh not sent"))

    @cached_property
    def created(self) -> Observed:
        if self.job.created_at:
            return Observed(self.job.created_at)
        return Observed(self.job.tracked_at, True, "first seen")

    @cached_property
    def started(self) -> Observed:
        if self.job.started_at:
            return Observed(self.job.started_at)
        seen = self.history.first_running if self.history else None
        return Observed(seen, seen is not None, "first seen running")

    @cached_property
    def finished(self) -> Observed:
        if self.job.finished_at or not self.job.is_terminal:
            return Observed(self.job.finished_at)
        seen = self.history.first_finished if self.history else None
        return Observed(seen, seen is not None, "first seen finished")

    @property
    def progress_unreported(self) -> bool:
        """Running, and the provider gives no progress: an indeterminate bar."""
        return self.job.state == State.RUNNING and self.job.progress is None

    @property
    def elapsed(self) -> str:
        """How long it has been running (or since Clapboard first saw it run)."""
        since = self.started.at or self.created.at
        return human_duration(timezone.now() - since) if since else ""

    @cached_property
    def typical_run(self) -> str:
        if not self.progress_unreported:
            return ""
        run = selectors.typical_run(self.job)
        return "usually " + human_range(*run) if run else ""

    @cached_property
    def explanation(self) -> Explanation | None:
        return explain(self.job)

    @cached_property
    def resubmissions(self) -> list[Job]:
        """The jobs that resubmitted this one (one, unless two operators raced)."""
        if not self.job.submit_params:  # not submitted here, so never resubmitted
            return []
        return list(self.job.resubmissions.only("code", "external_id", "state").order_by("id"))

    @property
    def queue_history(self) -> list[JobEvent]:
        """The newest queue positions, oldest first (`queue_positions` says how many in all)."""
        return self.history.queue_history if self.history else []

    @property
    def queue_positions(self) -> int:
        return self.history.queue_positions if self.history else 0

    @cached_property
    def cues(self) -> list[Cue]:
        return subtitle_cues(self.job)

    @cached_property
    def sentences(self) -> list[SentenceView]:
        return sentences(self.job)

    @cached_property
    def word_timings(self) -> list[list[WordChip]]:
        return word_timings(self.sentences)

    @cached_property
    def word_duration(self) -> int:
        ends = [w.end_ms for s in self.sentences for w in s.words]
        return max([*ends, self.job.duration_ms or 0, 1])

    @property
    def icon(self) -> str:
        return STATE_ICONS.get(self.job.state, "?")

    @property
    def media_is_audio(self) -> bool:
        path = self.job.media_url.split("?", 1)[0].lower()
        return path.endswith((".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac"))

    # --- media: how long its link works, what to say when it does not load ---------------

    public = False  # the share page's presenter says True

    @property
    def provider_name(self) -> str:
        return self.job.account.provider_label

    @property
    def retention_note(self) -> str:
        note = self.job.account.adapter_class.media_note
        if not note or not self.job.media_url:
            return ""
        return f"{capfirst(self.provider_name)} {note}."

    @property
    def media_host(self) -> str:
        return urlsplit(self.job.media_url).hostname or ""

    @property
    def media_handed_out_at(self) -> datetime | None:
        """When the provider gave out the media link: when the job finished, or (for
        providers that report no times) when Clapboard last heard from it."""
        return self.job.finished_at or self.job.last_polled_at

    @property
    def media_expires_at(self) -> datetime | None:
        """When the media link stops working by the provider's documented retention."""
        retention = self.job.account.adapter_class.media_retention
        handed_out = self.media_handed_out_at
        if not (retention and handed_out and self.job.media_url):
            return None
        return handed_out + retention

    @property
    def media_retention_text(self) -> str:
        retention = self.job.account.adapter_class.media_retention
        if not retention:
            return ""
        if retention < timedelta(days=2) or retention % timedelta(days=1):
            hours = int(retention.total_seconds() // 3600)
            return f"{hours} hour{'s' if hours != 1 else ''}"
        return f"{retention.days} day{'s' if retention.days != 1 else ''}"

    @property
    def media_expired(self) -> bool:
        expires_at = self.media_expires_at
        return expires_at is not None and timezone.now() >= expires_at


def saved_view_links(user: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    """The saved views above the list, the one matching the current filters marked."""
    current = saved_view_query(params)
    return [
        {
            "view": view,
            "url": "?" + view.query if view.query else ".",
            "current": view.query == current,
            "mine": view.owner_id == user.pk,
        }
        for view in selectors.saved_views_for(user)
    ]
