"""The per-state counts behind the list's tabs stay exact without counting the jobs table."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, F, Sum
from django.test.utils import CaptureQueriesContext

from jobs.models import Account, Job, JobStateCount
from jobs.refresh import refresh_once

pytestmark = pytest.mark.django_db(transaction=True)


def fresh_counts() -> dict[tuple[int, str], int]:
    return {
        (row["account_id"], row["state"]): row["n"]
        for row in Job.objects.values("account_id", "state").annotate(n=Count("id"))
    }


def kept_counts() -> dict[tuple[int, str], int]:
    return {(c.account_id, c.state): c.count for c in JobStateCount.objects.filter(count__gt=0)}


def test_counts_follow_every_kind_of_write(simulator, accounts):
    for code, account in accounts.items():
        for n, phase in enumerate(("queued", "running", "succeeded", "failed")):
            simulator.add_job(code, f"{code}-{n}", pinned=phase)
            Job.objects.create(account=account, external_id=f"{code}-{n}")
    Job.objects.bulk_create(
        Job(account=accounts["tencent_ci"], external_id=f"bulk-{n}", state="queued")
        for n in range(7)
    )
    assert kept_counts() == fresh_counts()

    refresh_once()  # the engine moves jobs between states
    assert kept_counts() == fresh_counts()
    assert JobStateCount.objects.filter(state="failed").aggregate(n=Sum("count"))["n"] == len(
        accounts
    )

    Job.objects.filter(state="queued").update(state="canceled")  # a bulk update
    doomed = list(
        Job.objects.filter(external_id__startswith="bulk-").values_list("pk", flat=True)[:3]
    )
    Job.objects.filter(pk__in=doomed).delete()
    Job.objects.filter(external_id="tencent_ci-1").update(account=accounts["tencent_vod"])
    assert kept_counts() == fresh_counts()

    accounts["aliyun_ice"].delete()  # a cascade
    assert kept_counts() == fresh_counts()


def test_the_list_reads_counts_without_counting_jobs(
    viewer_client, accounts, django_assert_max_num_queries
):
    Job.objects.bulk_create(
        Job(account=accounts["tencent_ivh"], external_id=f"j{n}", state=s)
        for n, s in enumerate(["failed"] * 3 + ["running"] * 2)
    )
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/")
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert tabs["Failed"] == 3 and tabs["Running"] == 2 and tabs["All"] == 5
    counting = [
        q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and '"jobs_job"' in q["sql"]
    ]
    assert counting == []


# --- PostgreSQL: the counters are written once per statement (migration 0012) ---------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: SQLite has no statement-level triggers (its row-level ones stay)",
)
NEW_MIGRATION = "state_count_statement_triggers"


@pytest.fixture
def two_accounts(db) -> list[Account]:
    return [Account.objects.create(name=f"counted-{n}", provider="tencent_vod") for n in (1, 2)]


def job_triggers() -> set[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT trigger_name, event_manipulation, action_orientation"
            " FROM information_schema.triggers WHERE event_object_table = 'jobs_job'"
        )
        return set(cursor.fetchall())


def counter_writes() -> int:
    """Row versions the current transaction has written to the counter table so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables"
            " WHERE relname = 'jobs_jobstatecount'"
        )
        return cursor.fetchone()[0]


def mixed_jobs(accounts: list[Account], n: int, prefix: str = "j") -> list[Job]:
    states = ("queued", "running", "succeeded", "failed")
    return [
        Job(account=accounts[i % 2], external_id=f"{prefix}{i}", state=states[i // 2 % 4])
        for i in range(n)
    ]


def test_bulk_moves_and_deletes_keep_counts_exact(two_accounts):
    first, second = two_accounts
    Job.objects.bulk_create(mixed_jobs(two_accounts, 400))
    assert kept_counts() == fresh_counts()

    # One statement: rows that change state, rows that stay, rows that change account.
    Job.objects.filter(account=first, state__in=("queued", "failed")).update(state="failed")
    Job.objects.filter(external_id__in=[f"j{i}" for i in range(0, 400, 3)]).update(
        account=second, state="running"
    )
    with connection.cursor() as cursor:  # a swap nets out: those counters must not move
        cursor.execute(
            "UPDATE jobs_job SET state = CASE state WHEN 'queued' THEN 'running'"
            " WHEN 'running' THEN 'queued' ELSE state END"
        )
    assert kept_counts() == fresh_counts()

    with connection.cursor() as cursor:  # one statement, not the ORM's batches
        cursor.execute("DELETE FROM jobs_job WHERE id % 5 = 0")
    Job.objects.filter(account=first, state="failed").delete()
    assert kept_counts() == fresh_counts()
    assert JobStateCount.objects.get(account=first, state="failed").count == 0  # kept at zero


@postgres_only
def test_inserts_and_deletes_count_per_statement_updates_per_moved_row():
    assert job_triggers() == {
        ("jobs_job_count_insert", "INSERT", "STATEMENT"),
        ("jobs_job_count_delete", "DELETE", "STATEMENT"),
        ("jobs_job_count_update", "UPDATE", "ROW"),  # WHEN the state or account moves
    }


@postgres_only
def test_one_statement_writes_each_counter_row_once(two_accounts):
    pairs = 2 * 4
    for prefix in ("new-", "more-"):  # first the counter rows are created, then updated
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            before = counter_writes()
            Job.objects.bulk_create(mixed_jobs(two_accounts, 2000, prefix))
            assert counter_writes() - before == pairs
        assert sum(q["sql"].startswith('INSERT INTO "jobs_job"') for q in queries) == 1

    with transaction.atomic():
        before = counter_writes()
        Job.objects.update(progress=5, version=F("version") + 1)  # a re-poll: no state moves
        assert counter_writes() == before
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM jobs_job WHERE state IN ('queued', 'failed')")
        assert counter_writes() - before == 4
    assert kept_counts() == fresh_counts()


@postgres_only
def test_the_reverse_migration_restores_row_level_triggers(two_accounts):
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    (new,) = (node for node in graph.nodes if node[0] == "jobs" and NEW_MIGRATION in node[1])
    (before,) = (node for node in graph.node_map[new].parents if node[0] == "jobs")
    latest = graph.leaf_nodes("jobs")
    try:
        executor.migrate([before])
        assert job_triggers() == {
            ("jobs_job_count_insert_delete", "INSERT", "ROW"),
            ("jobs_job_count_insert_delete", "DELETE", "ROW"),
            ("jobs_job_count_update", "UPDATE", "ROW"),
        }
        # The model as it was then: later migrations add columns.
        old_job = executor.loader.project_state([before.key]).apps.get_model("jobs", "Job")
        old_job.objects.bulk_create(
            old_job(account_id=j.account_id, external_id=j.external_id, state=j.state)
            for j in mixed_jobs(two_accounts, 200)
        )
        Job.objects.filter(state="running").update(state="failed", account=two_accounts[0])
        # Plain SQL: the ORM's delete would cascade to tables a later migration adds
        # (jobs_auditjob), which do not exist at `before`.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM jobs_job WHERE state = 'queued'")
        assert kept_counts() == fresh_counts()
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert len(job_triggers()) == 3
    Job.objects.filter(state="failed").update(state="queued")
    assert kept_counts() == fresh_counts()
