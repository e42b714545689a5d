"""Every order of the job list is walked down an index, on SQLite and PostgreSQL: a page
deep in the list reads from its keyset on, and nothing is sorted."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from jobs import selectors
from jobs.listing import SORT_CHOICES, rows_after, sort_of
from jobs.models import Job

pytestmark = pytest.mark.django_db

INDEX = {
    "tracked": "job_recent",
    "created": "job_sort_created",
    "changed": "job_sort_changed",
    "duration": "job_sort_duration",
    "progress": "job_sort_progress",
}


def plan_of(sql: str, params: tuple) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # A tiny table is cheaper to scan and sort: forbid both, so what is left is
        # whether an index can give this order at all.
        for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("sort", [value for value, _ in SORT_CHOICES])
def test_each_sort_reads_its_index_from_the_keyset(accounts, sort):
    account = accounts["tencent_vod"]
    Job.objects.bulk_create(
        Job(account=account, external_id=f"p{n}", progress=n % 7 or None) for n in range(50)
    )
    order = sort_of(sort)
    rows = selectors.job_list_rows(Job.objects.all(), order)
    last = list(rows[:10])[-1]
    page = rows_after(rows, order, last.sort_key, last.pk)[:10]
    sql, params = page.query.sql_with_params()
    with transaction.atomic():
        plan = plan_of(sql, params)
    assert INDEX[order.column] in plan, plan
    if connection.vendor == "sqlite":
        # SEARCH: a seek to the keyset's range, not a scan from the top.
        assert "TEMP B-TREE" not in plan, plan
        assert f"SEARCH jobs_job USING INDEX {INDEX[order.column]} (" in plan, plan
    else:
        assert "Sort" not in plan.replace("Sort Key", "") and "Index Scan" in plan, plan
