"""The job list's text search: a term anywhere in the task ID or the name, in any case.

The meaning is Django's `icontains` on both columns, whatever the database. What serves
it differs: PostgreSQL has pg_trgm GIN indexes (migrations 0005, 0011), SQLite the FTS5
trigram table `jobs_job_search` (migration 0012). Where that table is missing (an SQLite
without FTS5) the search scans, as it did before, and says so once in the log.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

logger = logging.getLogger(__name__)

# Shorter search terms match task IDs by prefix only: a trigram index cannot serve them,
# and a one- or two-character fragment matches nearly every ID anyway.
SUBSTRING_MIN = 3
FTS_TABLE = "jobs_job_search"
HITS_SQL = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608 - ours

_probed = threading.local()  # per thread, like Django's connections: {alias: (raw, usable)}
_warned: set[str] = set()


def term_filter(jobs: QuerySet[Any], term: str) -> QuerySet[Any]:
    """`jobs` whose task ID or name contains `term` (stripped, non-empty), in any case;
    a term shorter than SUBSTRING_MIN matches task IDs only exactly or by prefix."""
    if len(term) < SUBSTRING_MIN:
        return jobs.filter(
            Q(external_id=term) | Q(external_id__startswith=term) | Q(name__icontains=term)
        )
    contains = Q(external_id__icontains=term) | Q(name__icontains=term)
    if not fts_usable(jobs.db):
        return jobs.filter(contains)
    # The trigram index finds candidates; `contains` keeps the exact meaning (SQLite's LIKE
    # folds ASCII case only, FTS5 folds all of Unicode: the index finds a superset).
    return jobs.filter(contains, pk__in=RawSQL(HITS_SQL, [match_expression(term)]))  # noqa: S611 - a parameter


def match_expression(term: str) -> str:
    """An FTS5 query matching rows that hold every trigram of `term`, each a quoted
    string (a `"` doubled), so no character of `term` is FTS5 syntax.

    Every trigram rather than one phrase: `detail=none` keeps no positions, so a phrase
    of several trigrams is refused; the exact LIKE check drops the rows whose trigrams
    are all there but not in one piece."""
    trigrams = dict.fromkeys(term[start : start + 3] for start in range(len(term) - 2))
    return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in trigrams)


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
