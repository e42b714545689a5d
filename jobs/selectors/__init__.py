"""Reads shared by the pages and the API: the job list's filters, its state counts and
keyset pages, what changed since a poll, and the aggregates the account, job and Failures
pages show.

Every function here only reads. Filters arrive as a form's `cleaned_data` (`JobFilters`),
so the page and the API filter by the same rules whatever validated their input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict

from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.listing import QS, Key, Sort, created_within, rows_after, sort_of, sorted_rows
from jobs.models import (
    Account,
    Job,
    JobEvent,
    JobStateCount,
    SavedView,
)
from jobs.models.jobs import CREATED_AT, FINISHED_AT
from jobs.providers.base import State
from jobs.search import term_filter

# Searches count at most this many matching jobs per state for the tabs (then "1000+").
COUNT_CAP = 1000
MAX_KINDS = 200
# The export reads the list this many rows at a time, each chunk a query of its own.
EXPORT_CHUNK = 1000

# Distinct kinds by walking the job_kind index (one seek per kind) instead of reading
# every job: a "loose index scan", written the same way for SQLite and PostgreSQL.
KINDS_SQL = f"""
WITH RECURSIVE kinds(kind, n) AS (
    SELECT MIN(kind), 1 FROM {Job._meta.db_table} WHERE kind > ''
    UNION ALL
    SELECT (SELECT MIN(kind) FROM {Job._meta.db_table} WHERE kind > kinds.kind), n + 1
    FROM kinds WHERE kinds.kind IS NOT NULL AND n < %s
)
SELECT kind FROM kinds WHERE kind IS NOT NULL
"""  # noqa: S608 - the table name is our own

# Table names come from our own models; nothing here is user input. The last two columns
# change when an account starts or stops failing (the set of failing accounts, by count
# and sum of ids), so an open list learns within one poll that its data went stale.
TOKEN_SQL = (
    f"SELECT (SELECT MAX(id) FROM {JobEvent._meta.db_table}),"  # noqa: S608
    f" (SELECT MAX(id) FROM {Job._meta.db_table}),"
    f" (SELECT COUNT(*) FROM {Account._meta.db_table} WHERE {{failing}}),"
    f" (SELECT SUM(id) FROM {Account._meta.db_table} WHERE {{failing}})"
).format(failing="enabled AND consecutive_failures > 0")

FINISHED = [State.SUCCEEDED, State.FAILED, State.CANCELED]
# The failure_code filter's value for "no code" (a failed job whose provider gave none);
# no provider's code is a lone hyphen.
NO_FAILURE_CODE = "-"


class JobFilters(TypedDict, total=False):
    """The job list's filters, as JobFilterForm cleans them (empty values: no filter)."""

    q: str
    state: str
    state_not: str
    provider: str
    provider_not: str
    account: Account | None
    kind: str
    created_from: date | None
    created_to: date | None
    failure_code: str
    finished_from: datetime | None
    finished_to: datetime | None
    window: str
    # UTC hours of the created time, both included; from > to wraps midnight.
    hour_from: int | None
    hour_to: int | None
    sort: str
    per_page: int | None


def is_set(value: object) -> bool:
    """Whether a cleaned filter value filters (hour 0 does; "", None and [] do not)."""
    return value is not None and value != "" and value != []


def known_kinds() -> list[str]:
    """Every job kind that exists (at most MAX_KINDS), sorted."""
    with connection.cursor() as cursor:
        cursor.execute(KINDS_SQL, [MAX_KINDS])
        return [kind for (kind,) in cursor.fetchall()]


def _scope(rows: QS, filters: JobFilters) -> QS:
    """Jobs, or their counters, narrowed by the account, provider and exclusion filters:
    both have an account and a state."""
    if filters.get("state_not"):
        rows = rows.exclude(state=filters["state_not"])
    if filters.get("provider"):
        rows = rows.filter(account__provider=filters["provider"])
    if filters.get("provider_not"):
        rows = rows.exclude(account__provider=filters["provider_not"])
    if account := filters.get("account"):
        rows = rows.filter(account=account)
    return rows


def _day_start(day: date, *, next_day: bool = False) -> datetime:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


def job_filter(
    jobs: QuerySet[Job], filters: JobFilters, *, with_state: bool = True, any_order: bool = False
) -> QuerySet[Job]:
    """`jobs` narrowed by every filter set in `filters` (the state one only when `with_state`).

    `any_order`: the caller reads the matches in no order, up to a cap (jobs.search).
    The exclusions apply either way: the tab of an excluded state counts none."""
    if with_state and filters.get("state"):
        jobs = jobs.filter(state=filters["state"])
    jobs = _scope(jobs, filters)
    if filters.get("kind"):
        jobs = jobs.filter(kind=filters["kind"])
    start, end = filters.get("created_from"), filters.get("created_to")
    if start or end:
        jobs = jobs.alias(created=CREATED_AT)
        if start:
            jobs = jobs.filter(created__gte=_day_start(start))
        if end:
            jobs = jobs.filter(created__lt=_day_start(end, next_day=True))
    jobs = created_within(
        jobs, filters.get("window"), hours=(filters.get("hour_from"), filters.get("hour_to"))
    )
    if code := filters.get("failure_code"):
        jobs = jobs.filter(failure_code="" if code == NO_FAILURE_CODE else code)
    start, end = filters.get("finished_from"), filters.get("finished_to")
    if start or end:
        # A job that has not finished has no finish time, whatever its tracked_at says.
        jobs = jobs.filter(state__in=FINISHED).annotate(finished=FINISHED_AT)
        if start:
            jobs = jobs.filter(finished__gte=start)
        if end:
            jobs = jobs.filter(finished__lt=end)
    if term := (filters.get("q") or "").strip():
        # Operators paste fragments of IDs from logs: match anywhere, in any case.
        jobs = term_filter(jobs, term, any_order=any_order)
    return jobs


# Filters the trigger-kept counters cannot answer: the matching jobs are counted instead.
# (The exclusions they can: an excluded state's or provider's counters are left out.)
COUNTED_FILTERS = (
    "q",
    "kind",
    "created_from",
    "created_to",
    "failure_code",
    "finished_from",
    "finished_to",
    "window",
    "hour_from",
    "hour_to",
)


@dataclass(frozen=True)
class StateCounts:
    """Jobs per state. With a `cap` the counts stopped there: they are lower bounds, a
    sample of `cap` matches; None means they are exact."""

    counts: dict[str, int]
    cap: int | None = None


def job_state_counts(filters: JobFilters) -> StateCounts:
    """Jobs per state under every filter but the state one.

    Filters by provider or account read the trigger-kept JobStateCount table (a handful
    of rows, whatever the number of jobs). The others (COUNTED_FILTERS) count the matching
    jobs themselves, but only the first COUNT_CAP + 1 (then they add up to more than
    COUNT_CAP and are lower bounds): an exact count of a broad search would read most of
    the table on every poll. (Counting each state up to the cap instead cost 7x on SQLite
    at 1M jobs for a term just above the cap.)
    """
    if any(is_set(filters.get(name)) for name in COUNTED_FILTERS):
        jobs = job_filter(Job.objects.all(), filters, with_state=False, any_order=True)
        jobs = jobs.order_by()
        states = list(jobs.values_list("state", flat=True)[: COUNT_CAP + 1])
        cap = COUNT_CAP if len(states) > COUNT_CAP else None
        return StateCounts(dict(Counter(states[:COUNT_CAP])), cap)
    counts = _scope(JobStateCount.objects.filter(count__gt=0), filters)
    return StateCounts(dict(counts.order_by().values_list("state").annotate(n=Sum("count"))))


@dataclass(frozen=True)
class FailureGroup:
    """The failed jobs of one provider with one failure code ("" for none) in a window."""

    provider: str
    failure_code: str
    count: int
    first_seen: datetime
    last_seen: datetime
    # The newest tracked of them with a failure message (else the newest), with its
    # account's provider; None if it was deleted meanwhile.
    example: Job | None


def failure_groups(filters: JobFilters) -> list[FailureGroup]:
    """The failed jobs `filters` let through (their provider, account and finished window;
    the state is set to failed here), grouped by provider and failure code, the largest
    group first.

    One aggregate query over the window's failed jobs (served by migration 0015's index,
    not a scan of every job), and one more for each group's example by primary key. The
    groups count exactly what `job_filter` lets through under the same filters, so the job
    list behind a group's link shows the jobs counted."""
    failed = job_filter(Job.objects.all(), {**filters, "state": State.FAILED})
    rows = list(
        failed.order_by()
        .values("account__provider", "failure_code")
        .annotate(
            count=Count("id"),
            first_seen=Min(FINISHED_AT),
            last_seen=Max(FINISHED_AT),
            newest=Max("id"),
            # An example that says something, where one does.
            told=Max("id", filter=~Q(failure_message="")),
        )
        .order_by("-count", "-last_seen", "account__provider", "failure_code")
    )
    examples = Job.objects.select_related("account").only(
        "code",
        "external_id",
        "name",
        "state",
        "failure_code",
        "failure_message",
        "account__provider",
    )
    by_id = examples.in_bulk([row["told"] or row["newest"] for row in rows])
    return [
        FailureGroup(
            provider=row["account__provider"],
            failure_code=row["failure_code"],
            count=row["count"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            example=by_id.get(row["told"] or row["newest"]),
        )
        for row in rows
    ]


def account_filter(accounts: QuerySet[Account], filters: JobFilters) -> QuerySet[Account]:
    """The accounts whose jobs the provider and account filters let through."""
    if filters.get("provider"):
        accounts = accounts.filter(provider=filters["provider"])
    if filters.get("provider_not"):
        accounts = accounts.exclude(provider=filters["provider_not"])
    if account := filters.get("account"):
        accounts = accounts.filter(pk=account.pk)
    return accounts


def failing_accounts(accounts: QuerySet[Account]) -> list[Account]:
    """The enabled ones among `accounts` whose last checks failed, by name."""
    failing = accounts.filter(enabled=True, consecutive_failures__gt=0).only(
        "name", "provider", "last_ok_at", "retry_at", "consecutive_failures", "last_error"
    )
    return list(failing.order_by("name"))


# Job columns a list row never shows: the big JSON and text ones, each decoded per row.
LIST_UNSHOWN = ("words", "raw", "subtitles", "submit_params")


def job_list_rows(jobs: QuerySet[Job], sort: Sort | None = None) -> QuerySet[Job]:
    """`jobs` in `sort`'s order (newest tracked first by default), each with its
    `sort_key` (jobs.listing); "Last change" is the job's own `changed_at`.

    The account comes along without its credentials: a row never needs them, and loading
    them would decrypt one blob per row. Nor are LIST_UNSHOWN loaded."""
    rows = jobs.select_related("account").defer("account__credentials", *LIST_UNSHOWN)
    return sorted_rows(rows, sort or sort_of(None))


def job_export_rows(
    jobs: QuerySet[Job],
    fields: Sequence[str],
    *,
    sort: Sort | None = None,
    chunk_size: int | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The values of `fields` (Job columns) of every one of `jobs`, in the list's order
    for `sort` (newest tracked first by default).

    Read in keyset chunks of `chunk_size` (EXPORT_CHUNK) down the sort's index, each a
    query of its own read to its end, rather than one long cursor: no statement stays
    open while the rows travel to a slow client, so SQLite holds no read snapshot that
    keeps its WAL from being checkpointed, and PostgreSQL no snapshot that holds back
    vacuum (there `.iterator()` would even be a WITH HOLD cursor, the whole result
    materialised first). A job's tracked_at never changes, so under the default sort a
    job that exists throughout the walk is read exactly once; under a key that moves
    (last change, progress) a job that moves past the walk's position meanwhile can be
    read twice or not at all, as on a list paged meanwhile."""
    sort = sort or sort_of(None)
    values = sorted_rows(jobs, sort).values_list(*fields, "sort_key", "id")
    width = len(fields)
    size = chunk_size or EXPORT_CHUNK
    chunk = values
    while True:
        page = list(chunk[:size])
        for row in page:
            yield row[:width]
        if len(page) < size:
            return
        chunk = rows_after(values, sort, page[-1][-2], page[-1][-1])


def job_page(
    jobs: QuerySet[Job], *, sort: Sort | None = None, after: tuple[Key, int] | None, size: int
) -> tuple[list[Job], bool]:
    """Up to `size` of `jobs` (job_list_rows, in `sort`'s order) after the keyset `after`
    ((sort key, id) of the last one seen), and whether more follow."""
    if after:
        jobs = rows_after(jobs, sort or sort_of(None), *after)
    page = list(jobs[: size + 1])
    return page[:size], len(page) > size


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


def typical_run(job: Job, *, samples: int = 20) -> tuple[timedelta, timedelta] | None:
    """How long the account's recent succeeded jobs of this kind ran (25th–75th
    percentile), from at most `samples` rows read through the job_recent_succeeded index;
    None with fewer than three that have a start time."""
    rows = (
        Job.objects.filter(
            account_id=job.account_id,
            kind=job.kind,
            state=State.SUCCEEDED,
            finished_at__isnull=False,
        )
        .exclude(pk=job.pk)
        .order_by("-finished_at")
        .values_list("started_at", "created_at", "finished_at")[:samples]
    )
    runs: list[timedelta] = []
    for started, created, finished in rows:
        began = started or created
        if began is not None and finished is not None and finished >= began:
            runs.append(finished - began)
    runs.sort()
    if len(runs) < 3:
        return None
    return runs[len(runs) // 4], runs[min(len(runs) - 1, 3 * len(runs) // 4)]


def accounts_with_oldest_poll() -> list[Account]:
    """Every account (credentials deferred), each annotated with `oldest_poll`: when the
    longest-waiting of its watched, unfinished jobs was last polled (or tracked)."""
    return list(
        Account.objects.defer("credentials").annotate(
            oldest_poll=Min(
                Coalesce("jobs__last_polled_at", "jobs__tracked_at"),
                filter=~Q(jobs__state__in=FINISHED) & Q(jobs__next_poll_at__isnull=False),
            )
        )
    )


def state_counts_by_account() -> dict[int, dict[str, int]]:
    """{account id: {state: jobs}} from the trigger-kept counters, not a count over every job."""
    by_state: dict[int, dict[str, int]] = {}
    rows = JobStateCount.objects.filter(count__gt=0).values_list("account_id", "state", "count")
    for account_id, state, n in rows:
        by_state.setdefault(account_id, {})[state] = n
    return by_state


def saved_views_for(user: Any) -> list[SavedView]:
    """The views `user` sees above the list: their own, then those others shared."""
    views = SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")
    return sorted(views, key=lambda v: (v.owner_id != user.pk, v.name.lower()))


# Reads of their own areas, here so callers keep `from jobs import selectors`
# (imported as themselves: re-exported names).
from jobs.selectors.accounts import NotificationSummary as NotificationSummary  # noqa: E402
from jobs.selectors.accounts import notification_summaries as notification_summaries  # noqa: E402
from jobs.selectors.audit import AuditFilters as AuditFilters  # noqa: E402
from jobs.selectors.audit import audit_entries as audit_entries  # noqa: E402
from jobs.selectors.audit import audit_page as audit_page  # noqa: E402
