"""A job's events as its pages read them: one page of the timeline at a time (newest first,
keyset by event, one LIMIT query) and the few facts the page needs from the whole history
(first seen running or finished, the last "Refresh now", the ETA's first and last points),
each from a targeted query. A job with 10,000 events costs its page what one with 10 does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.db.models import Count, Min, Q, QuerySet, Subquery
from django.utils import timezone

from jobs.models import Job, JobEvent
from jobs.providers.base import State

EVENTS_PAGE = 50  # events per page of the timeline (a run of ticks folds into one entry)
QUEUE_SHOWN = 50  # newest queue positions in the "Queue position" card
REFRESH_NEWS = timedelta(minutes=10)  # a "Refresh now" outcome older than this is not news
TERMINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELED)


def older_than(events: QuerySet[JobEvent], event: JobEvent) -> QuerySet[JobEvent]:
    """The events before `event` in the timeline's order (at, id)."""
    return events.filter(Q(at__lt=event.at) | Q(at=event.at, pk__lt=event.pk))


@dataclass(frozen=True)
class EventPage:
    """Up to `EVENTS_PAGE` events, oldest first, and how many older ones there are."""

    events: list[JobEvent]
    older: int

    @property
    def next_before(self) -> int | None:
        """The cursor of the next (older) page, or None on the last one."""
        return self.events[0].pk if self.older and self.events else None


def event_page(
    job: Job, *, before: JobEvent | None = None, size: int = EVENTS_PAGE, total: int | None = None
) -> EventPage:
    """The `size` newest events of `job` (older than `before`, when given): the page (one
    LIMIT query) and a count of what matches, unless `total` gives it (counted even for a
    short page, so the query count is the same for every job)."""
    events = job.events.all()
    if before is not None:
        events = older_than(events, before)
    page = list(events.order_by("-at", "-id")[:size])
    page.reverse()
    matching = events.count() if total is None else total
    return EventPage(page, max(0, matching - len(page)))


def event_of(job: Job, raw: str) -> JobEvent | None:
    """The event of `job` whose id is `raw`, or None; ValueError when `raw` is no id."""
    pk = int(raw)
    if not 0 < pk < 2**63:
        raise ValueError(raw)
    return job.events.filter(pk=pk).first()


@dataclass(frozen=True)
class Point:
    at: datetime
    value: int


class History:
    """What the job page reads of a job's events, each part queried when first asked."""

    def __init__(self, job: Job) -> None:
        self.job = job

    @cached_property
    def page(self) -> EventPage:
        """The newest page of the timeline."""
        return event_page(self.job, total=self._summary["total"])  # type: ignore[arg-type]

    @cached_property
    def _summary(self) -> dict[str, object]:
        status = Q(kind=JobEvent.Kind.STATUS)
        return self.job.events.aggregate(
            total=Count("id"),
            first_running=Min("at", filter=status & Q(state=State.RUNNING)),
            first_finished=Min("at", filter=status & Q(state__in=TERMINAL_STATES)),
            queue_positions=Count("id", filter=Q(queue_position__isnull=False)),
        )

    @property
    def first_running(self) -> datetime | None:
        """When a status event first said running."""
        return self._summary["first_running"]  # type: ignore[return-value]

    @property
    def first_finished(self) -> datetime | None:
        """When a status event first said succeeded, failed or canceled."""
        return self._summary["first_finished"]  # type: ignore[return-value]

    @property
    def queue_positions(self) -> int:
        """How many events carry a queue position."""
        return self._summary["queue_positions"]  # type: ignore[return-value]

    @cached_property
    def queue_history(self) -> list[JobEvent]:
        """The newest `QUEUE_SHOWN` events with a queue position, oldest first."""
        if self.queue_positions < 2:
            return []
        queued = self.job.events.filter(queue_position__isnull=False)
        shown = list(queued.order_by("-at", "-id")[:QUEUE_SHOWN])
        shown.reverse()
        return shown

    @cached_property
    def last_refresh(self) -> JobEvent | None:
        """The latest "Refresh now" outcome, while it is recent enough to be news."""
        recent = self.job.events.filter(
            kind=JobEvent.Kind.REFRESH, at__gt=timezone.now() - REFRESH_NEWS
        )
        return recent.order_by("-at", "-id").first()

    def ends(self, which: Q, field: str) -> tuple[Point, Point] | None:
        """The first and the last event matching `which` (by at, id) as points of `field`,
        in one query; None with fewer than two such events."""
        matching = self.job.events.filter(which).values("pk")
        first = Subquery(matching.order_by("at", "id")[:1])
        last = Subquery(matching.order_by("-at", "-id")[:1])
        rows = list(
            self.job.events.filter(Q(pk=first) | Q(pk=last))
            .order_by("at", "id")
            .values_list("at", field)
        )
        if len(rows) < 2:
            return None
        return Point(*rows[0]), Point(*rows[-1])

    @cached_property
    def progress_ends(self) -> tuple[Point, Point] | None:
        """The first and last progress seen while running (the ETA's rate)."""
        return self.ends(Q(state=State.RUNNING, progress__isnull=False), "progress")

    @cached_property
    def queue_ends(self) -> tuple[Point, Point] | None:
        """The first and last queue positions seen (the queue's rate)."""
        return self.ends(Q(queue_position__isnull=False), "queue_position")
