"""The job list's orders and its keyset: which key each `sort` reads, and the rows after
a given (key, id); and its filters on the created time relative to now and by hour.

Every sort is a key and the id, both in one direction, so rows with the same key (ties,
and every job without a value: it sorts as -1) keep a total order, and a page starts
where the last one stopped however deep it is. Each key has an index it can walk either
way: job_recent for the default, the job_sort_* expression indexes (migration 0020) for
the others. The key is annotated as `sort_key`, so the page reads the value it
continues from rather than computing it again in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db.models import F, Q, QuerySet
from django.db.models.functions import ExtractHour
from django.utils import timezone

from jobs.models.jobs import CHANGED_AT, CREATED_AT, DURATION_KEY, PROGRESS_KEY

# A queryset of jobs, of models or of values: the functions here keep what they are given.
QS = TypeVar("QS", bound=QuerySet[Any, Any])

# column: (key, whether the key is a time: else a whole number)
KEYS: dict[str, tuple[Any, bool]] = {
    "tracked": (F("tracked_at"), True),
    "created": (CREATED_AT, True),
    "changed": (CHANGED_AT, True),
    "duration": (DURATION_KEY, False),
    "progress": (PROGRESS_KEY, False),
}
DEFAULT_SORT = "-tracked"
# The `sort` values (a column, newest / largest first with a leading "-") and their words.
SORT_CHOICES = [
    ("-tracked", "Newest tracked first"),
    ("tracked", "Oldest tracked first"),
    ("-created", "Newest created first"),
    ("created", "Oldest created first"),
    ("-changed", "Latest change first"),
    ("changed", "Earliest change first"),
    ("-duration", "Longest media first"),
    ("duration", "Shortest media first"),
    ("-progress", "Most progress first"),
    ("progress", "Least progress first"),
]

Key = datetime | int


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.column

    @property
    def timed(self) -> bool:
        return KEYS[self.column][1]

    @property
    def is_default(self) -> bool:
        return self.param == DEFAULT_SORT

    def toggled(self) -> Sort:
        return Sort(self.column, not self.descending)


def sort_of(param: str | None) -> Sort:
    """The Sort a validated `sort` value names (the default for an empty one)."""
    param = param or DEFAULT_SORT
    column = param.removeprefix("-")
    if column not in KEYS:
        raise ValueError(f"no sort {param!r}")
    return Sort(column, param.startswith("-"))


def sorted_rows(rows: QS, sort: Sort) -> QS:
    """`rows` in `sort`'s order, each annotated with its `sort_key`."""
    key = KEYS[sort.column][0]
    order = (key.desc(), F("id").desc()) if sort.descending else (key.asc(), F("id").asc())
    return rows.annotate(sort_key=key).order_by(*order)


def rows_after(rows: QS, sort: Sort, key: Key, pk: int) -> QS:
    """The rows of `sorted_rows(..., sort)` that come after the one with (`key`, `pk`)."""
    # The plain bound is the index range; the OR only drops the ties already read.
    if sort.descending:
        return rows.filter(Q(sort_key__lt=key) | Q(id__lt=pk), sort_key__lte=key)
    return rows.filter(Q(sort_key__gt=key) | Q(id__gt=pk), sort_key__gte=key)


# The `window` presets: created within this long before now.
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}


def created_within(jobs: QS, window: str | None, *, hours: tuple[int | None, int | None]) -> QS:
    """`jobs` created within the `window` before now (a WINDOWS key; None: any time) and
    in the UTC `hours` (from, to), both included, across midnight when from comes after
    to (22 to 1: 22:00 to 01:59); None at either end leaves that end open."""
    if delta := WINDOWS.get(window or ""):
        jobs = jobs.alias(created=CREATED_AT).filter(created__gte=timezone.now() - delta)
    start, end = hours
    if start is None and end is None:
        return jobs
    jobs = jobs.alias(created_hour=ExtractHour(CREATED_AT, tzinfo=UTC))
    start, end = start or 0, 23 if end is None else end
    if start <= end:
        return jobs.filter(created_hour__gte=start, created_hour__lte=end)
    return jobs.filter(Q(created_hour__gte=start) | Q(created_hour__lte=end))
