"""The job list as a CSV file: every job a filter lets through, in the list's order, streamed.

The page (/jobs.csv) and the API (/api/v1/jobs.csv, or /api/v1/jobs asked for text/csv)
both answer with `csv_response`, and so does the bulk bar's export of selected jobs
(/bulk/export.csv, POST /api/v1/jobs.csv). The file holds what the list shows plus the
IDs and times behind it; never a credential, a raw payload or a media URL (provider URLs
are often presigned: the signature in them is a credential for a while). Every export
is an audit entry: what it held and, once written, how many rows.
"""

from __future__ import annotations

import csv
import functools
import io
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header

from jobs import freshness, selectors
from jobs.listing import Sort
from jobs.models import Account, Job
from jobs.providers.base import TERMINAL_STATES
from jobs.services.audit import Action, Outcome, audit_record, audit_settle

HEADER = (
    "code",
    "provider",
    "account",
    "account_code",
    "external_id",
    "kind",
    "name",
    "state",
    "provider_state",
    "progress",
    "queue_position",
    "failure_code",
    "failure_message",
    "created_at",
    "started_at",
    "finished_at",
    "tracked_at",
    "last_polled_at",
    "last_change_at",
    "duration_ms",
    "stale_reason",
    "url",
)
# What a row is read from (in _cells' order): the columns shown, and what
# jobs.freshness needs besides for `stale_reason`.
FIELDS = (
    "code",
    "account_id",
    "external_id",
    "kind",
    "name",
    "state",
    "provider_state",
    "progress",
    "queue_position",
    "failure_code",
    "failure_message",
    "created_at",
    "started_at",
    "finished_at",
    "tracked_at",
    "last_polled_at",
    "changed_at",
    "duration_ms",
    "next_poll_at",
    "poll_errors",
    "stopped_reason",
)
# Rows per piece of the response: big enough that the per-write overhead of WSGI and gzip
# vanishes, small enough to stay a few hundred KB.
ROWS_PER_WRITE = 1000
# A cell a spreadsheet would run as a formula (OWASP, "CSV Injection"): = + - @, a tab or
# a CR first; an LF too, for good measure. Such a cell gets a ' in front and reads as text.
FORMULA_START = frozenset("=+-@\t\r\n")
_ZERO = uuid.UUID(int=0)


def text_cell(value: str) -> str:
    """`value` as a cell no spreadsheet runs: a leading formula character is escaped."""
    return "'" + value if value and value[0] in FORMULA_START else value


def utc(value: datetime | None) -> str:
    """ISO 8601 in UTC to the second, with a Z ("" for no time)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Rows:
    """Turns FIELDS tuples into HEADER cells. Holds the accounts by id, read once (without
    credentials) and again only for one that appeared since; per account one Job that
    takes each unfinished row's values in turn for jobs.freshness (building a model
    instance per row cost 60 µs); and the time freshness is judged at, renewed with
    every piece of the file."""

    def __init__(self, job_url: tuple[str, str]) -> None:
        self.job_url = job_url
        self.accounts: dict[int, Account] = {}
        self.jobs: dict[int, Job] = {}
        self.now = timezone.now()

    def account(self, pk: int) -> Account | None:
        if pk not in self.accounts:
            self.accounts = Account.objects.defer("credentials").in_bulk()
            self.jobs = {}  # they held the accounts read before
        return self.accounts.get(pk)  # None: deleted since, and its jobs with it

    def stale_reason(self, account: Account, state: str, *values: Any) -> str:
        """The list's freshness label ("" when current); it carries no provider message."""
        if state in TERMINAL_STATES:  # final data is always current
            return ""
        job = self.jobs.get(account.pk)
        if job is None:
            job = self.jobs[account.pk] = Job(account=account)
        job.state = state
        job.last_polled_at, job.next_poll_at, job.poll_errors, job.stopped_reason = values
        return freshness.freshness(job, now=self.now).label

    def cells(self, row: tuple[Any, ...]) -> list[Any] | None:
        """The row's cells; None for a job whose account was deleted while the file was
        being written (the job went with it)."""
        (code, account_id, external_id, kind, name, state, provider_state, progress) = row[:8]
        (queue_position, failure_code, failure_message, created, started, finished) = row[8:14]
        (tracked, polled, changed, duration_ms, next_poll_at, poll_errors, stopped) = row[14:]
        account = self.account(account_id)
        if account is None:
            return None
        stale = self.stale_reason(account, state, polled, next_poll_at, poll_errors, stopped)
        return [
            str(code),
            account.provider,
            text_cell(account.name),
            str(account.code),
            text_cell(external_id),
            text_cell(kind),
            text_cell(name),
            state,
            text_cell(provider_state),
            progress,
            queue_position,
            text_cell(failure_code),
            text_cell(failure_message),
            utc(created),
            utc(started),
            utc(finished),
            utc(tracked),
            utc(polled),
            utc(changed),
            duration_ms,
            stale,
            f"{self.job_url[0]}{code}{self.job_url[1]}",
        ]


def csv_lines(
    rows: Iterable[tuple[Any, ...]],
    *,
    job_url: tuple[str, str],
    bom: bool,
    begin: Callable[[], Callable[[int, bool], None]] | None = None,
) -> Iterator[bytes]:
    """The CSV file of `rows` (FIELDS of each job) in UTF-8, a header first, in pieces of
    ROWS_PER_WRITE rows; `job_url` is the job page's URL before and after the code.
    `begin()` is called when the first piece is asked for; what it returns is called
    with (rows written, whole file) once the file is written, or when the download stops
    before (the client went away: the generator is closed)."""
    on_end = begin() if begin is not None else None
    shape = _Rows(job_url)
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF, quotes where a cell needs them
    written, whole = 0, False
    try:
        if bom:
            buffer.write("\ufeff")
        writer.writerow(HEADER)
        for n, row in enumerate(rows, 1):
            if (cells := shape.cells(row)) is not None:
                writer.writerow(cells)
                written += 1
            if n % ROWS_PER_WRITE == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
                shape.now = timezone.now()
        yield buffer.getvalue().encode()
        whole = True
    finally:
        if on_end is not None:
            on_end(written, whole)


def export_audit(
    request: HttpRequest, *, via: str, chosen: Sequence[int] = (), filters: Mapping[str, Any]
) -> Callable[[int, bool], None]:
    """Record the export as an audit entry (the selected jobs linked, or the filter in its
    detail) and return what settles it with the rows written (csv_lines' `begin`)."""
    what = f"{len(chosen):,} selected jobs" if chosen else "the job list"
    detail: dict[str, Any] = {"selected": len(chosen)} if chosen else {"filter": dict(filters)}
    entry = audit_record(
        user=request.user,
        via=via,
        action=Action.EXPORT,
        outcome=Outcome.REQUESTED,
        summary=f"CSV export of {what} started",
        jobs=chosen,
        detail=detail,
    )

    def settle(rows: int, whole: bool) -> None:
        if whole:
            summary, outcome = f"Exported {rows:,} jobs as CSV ({what})", Outcome.DONE
        else:
            summary = f"CSV export of {what} stopped after {rows:,} rows: the download broke off"
            outcome = Outcome.FAILED
        audit_settle(entry_id=entry.pk, outcome=outcome, summary=summary)

    return settle


def csv_response(
    request: HttpRequest,
    jobs: QuerySet[Job],
    *,
    sort: Sort | None = None,
    bom: bool,
    via: str,
    chosen: Sequence[int] = (),
    filters: Mapping[str, Any] | None = None,
) -> StreamingHttpResponse:
    """`jobs` in `sort`'s order (newest tracked first by default) as a CSV download named
    for the time of the export, streamed: the rows are
    read while they are sent (jobs.selectors.job_export_rows), so memory stays flat
    whatever their number. `bom`: start with a UTF-8 byte order mark, without which
    Excel reads the file as the local code page and garbles non-Latin names. The export
    is audited (`chosen`: the ids of selected jobs; else `filters`, the list's). HEAD
    reads no row and records nothing."""
    page = request.build_absolute_uri(reverse("job-detail", args=[_ZERO]))
    head, _, tail = page.partition(str(_ZERO))
    body: Iterable[bytes] = ()
    if request.method != "HEAD":
        # Audited once the file is being written: a response never read sent nothing.
        audit = functools.partial(
            export_audit, request, via=via, chosen=chosen, filters=filters or {}
        )
        rows = selectors.job_export_rows(jobs, FIELDS, sort=sort)
        body = csv_lines(rows, job_url=(head, tail), bom=bom, begin=audit)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = content_disposition_header(
        True, f"clapboard-jobs-{stamp}.csv"
    )
    patch_cache_control(response, private=True, no_store=True)
    return response
