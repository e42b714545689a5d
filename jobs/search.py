"""The job list's text search: a term anywhere in the task ID or the name, in any case.

The meaning is Django's `icontains` on both columns, whatever the database. What serves
it differs: PostgreSQL has pg_trgm GIN indexes (migrations 0005, 0011), SQLite the FTS5
trigram table `jobs_job_search` (migration 0013, `JobSearch`). Where that table is
missing (an SQLite without FTS5) the search scans, as it did before, and says so once in
the log.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet

logger = logging.getLogger(__name__)

# Shorter search terms match task IDs by prefix only: a trigram index cannot serve them,
# and a one- or two-character fragment matches nearly every ID anyway.
SUBSTRING_MIN = 3
FTS_TABLE = "jobs_job_search"
# A newest-first page is read from the trigram index only when it has at most this many
# candidates. Both plans were measured on SQLite at 1M jobs (bench/pages.py): driving from
# the index costs ~6 µs per candidate (a row fetched by id, then a sort): 5 ms for "news
# 42", 0.6 s for "news" (125,000). Walking the newest-first index and testing each job
# costs ~10 µs per job walked, and it walks ~50 × jobs / matches to fill a page: 6 ms
# for "news", 0.35 s for "news 42". The two meet near 8,000 candidates.
DRIVE_MAX = 8000
PROBE_SQL = (
    f"SELECT count(*) FROM (SELECT 1 FROM {FTS_TABLE}"  # noqa: S608 - our table, a parameter
    f" WHERE {FTS_TABLE} MATCH %s LIMIT %s)"
)

_probed = threading.local()  # per thread, like Django's connections: {alias: (raw, usable)}
_warned: set[str] = set()


def term_filter(jobs: QuerySet[Any], term: str, *, any_order: bool = False) -> QuerySet[Any]:
    """`jobs` whose task ID or name contains `term` (stripped, non-empty), in any case; a
    term shorter than SUBSTRING_MIN matches task IDs only exactly or by prefix.

    `any_order`: the caller reads matches in no particular order up to a cap (the state
    counts), so the trigram index may always drive the query: it stops at the cap. On
    SQLite, without it, a search first counts its candidates (one more query)."""
    if len(term) < SUBSTRING_MIN:
        return jobs.filter(
            Q(external_id=term) | Q(external_id__startswith=term) | Q(name__icontains=term)
        )
    contains = Q(external_id__icontains=term) | Q(name__icontains=term)
    if not fts_usable(jobs.db):
        return jobs.filter(contains)
    query = match_expression(term)
    # SQLite's planner cannot tell a rare term from a common one (a virtual table's
    # estimate is fixed): given the join it always drives from the index. Common terms
    # therefore go without it, and the newest-first index serves them (see DRIVE_MAX).
    if not any_order and _candidates_exceed(jobs.db, query, DRIVE_MAX):
        return jobs.filter(contains)
    # The trigram index finds candidates; `contains` keeps the exact meaning (SQLite's LIKE
    # folds ASCII case only, FTS5 all of Unicode; the index finds a superset).
    return jobs.filter(contains, fts__document__match=query)


def match_expression(term: str) -> str:
    """An FTS5 query matching the rows that hold trigrams of `term` covering all of it,
    each a quoted string (a `"` doubled), so no character of `term` is FTS5 syntax.

    Separate trigrams rather than one phrase: `detail=none` keeps no positions, so a
    phrase of several trigrams is refused; the LIKE check drops the rows whose trigrams are
    all there but not in one piece. Trigrams side by side, not overlapping, cover the term
    as well for half the lists to intersect (long terms took 25 ms, now 10)."""
    starts = [*range(0, len(term) - 2, 3), len(term) - 3]
    trigrams = dict.fromkeys(term[start : start + 3] for start in starts)
    return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in trigrams)


def _candidates_exceed(alias: str, query: str, limit: int) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute(PROBE_SQL, [query, limit + 1])
        (candidates,) = cursor.fetchone()
    return bool(candidates > limit)


def fts_usable(alias: str) -> bool:
    """Whether database `alias` has a working `jobs_job_search`: SQLite with FTS5 and the
    table migrated. Asked once per connection (the schema does not change under a running
    app), on the raw connection, so it never shows as a query of a page."""
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    connection.ensure_connection()
    raw = connection.connection
    seen = getattr(_probed, alias, None)
    if seen is not None and seen[0] is raw:
        return bool(seen[1])
    try:
        raw.execute(f"SELECT rowid FROM {FTS_TABLE} WHERE 0").fetchall()  # noqa: S608
        usable = True
    except sqlite3.Error as exc:
        usable = False
        if alias not in _warned:
            _warned.add(alias)
            logger.warning("job search scans the jobs table: %s unusable (%s)", FTS_TABLE, exc)
    setattr(_probed, alias, (raw, usable))
    return usable
