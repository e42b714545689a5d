"""On PostgreSQL, inserts and deletes of jobs update the state counters once per statement.

0003's triggers fire for each row: a `bulk_create` of 5,000 jobs updated the same few
counter rows 5,000 times, each update a new row version (MVCC), so the counter table
bloated with dead tuples and concurrent writers queued on its rows for the whole
statement. Here INSERT and DELETE get statement-level triggers over transition tables
(PostgreSQL allows those on one event per trigger, never with `UPDATE OF` columns): one
aggregated write per statement, each counter row touched once, in (account_id, state)
order so that two statements moving the same counters queue rather than deadlock.
Counters that reach zero stay, at zero, as before.

UPDATE keeps 0003's row-level trigger, `WHEN (OLD.state IS DISTINCT FROM NEW.state ...)`:
the refresh engine sends one single-row UPDATE per job (`_write_many`), nearly all moving
no state, and a statement-level UPDATE trigger (no column list, no WHEN possible) fires and
captures transition tables for each of them. bench/counters.py, PostgreSQL 15, 20,000
single-row UPDATEs in one executemany, median of 5 interleaved rounds, 2 cores shared
with other work (load 2 to 6):

    UPDATE trigger                         no state change   state change
    run 1: row-level WHEN (0003, kept)     3.56 s            3.75 s
           statement-level upsert          4.41 s (+24 %)    4.71 s (+26 %)
           the same, returning early       5.58 s (+61 %)    5.21 s  (a later, busier run)
    run 2: row-level WHEN (0011)           4.35 s            4.34 s
           row-level WHEN (0012)           3.54 s            3.71 s  (same trigger: noise)
           statement-level upsert          4.41 s            4.77 s

The noise is of the order of the effect, but the statement-level trigger was never
faster, and an idle table (no other load) costs it ~5 µs a statement just to find an
empty change set. Keeping the row-level trigger costs the hot path nothing.
Bulk state updates (a `filter(...).update(state=...)`) thus still write a counter row
version per moved job; no code path of the app does one.
Bulk inserts, 100,000 jobs in 20 statements, 5 accounts, 4 states (bench/counters.py):
row-level 61 to 85 s and 99,980 dead counter row versions; statement-level 23 s and 380;
deletes of 20,000 in 200 statements: 20,000 against 4,000.

SQLite keeps 0003's row-level triggers: it has no statement-level triggers, and it
updates rows in place, so its counters never bloated. This migration does nothing there.
Nothing truncates jobs_job but Django's flush, which truncates the counters with it.
"""

from django.db import migrations

ROW_LEVEL_INSERT_DELETE = """CREATE TRIGGER jobs_job_count_insert_delete
    AFTER INSERT OR DELETE ON jobs_job
    FOR EACH ROW EXECUTE FUNCTION jobs_job_count()"""  # as 0003 made it
INSERTED = """CREATE OR REPLACE FUNCTION jobs_job_count_inserted() RETURNS trigger AS $$
    BEGIN
        INSERT INTO jobs_jobstatecount (account_id, state, count)
        SELECT account_id, state, COUNT(*) FROM inserted_jobs
        GROUP BY account_id, state ORDER BY account_id, state
        ON CONFLICT (account_id, state) DO UPDATE
        SET count = jobs_jobstatecount.count + EXCLUDED.count;
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""
# Decrements UPDATE and never upsert: deleting an account deletes its counter rows before
# its jobs (a fast delete), and an upsert here would bring them back, orphaned. The rows
# are locked in order first; an UPDATE ... FROM alone visits them in its plan's order.
DELETED = """CREATE OR REPLACE FUNCTION jobs_job_count_deleted() RETURNS trigger AS $$
    BEGIN
        WITH gone AS (
            SELECT account_id, state, COUNT(*) AS n FROM deleted_jobs GROUP BY account_id, state
        ), locked AS (
            SELECT counter.id, gone.n FROM jobs_jobstatecount counter
            JOIN gone USING (account_id, state)
            ORDER BY counter.account_id, counter.state FOR UPDATE OF counter
        )
        UPDATE jobs_jobstatecount SET count = jobs_jobstatecount.count - locked.n
        FROM locked WHERE jobs_jobstatecount.id = locked.id;
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""
STATEMENT_LEVEL = [
    INSERTED,
    DELETED,
    """CREATE TRIGGER jobs_job_count_insert AFTER INSERT ON jobs_job
    REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_job_count_inserted()""",
    """CREATE TRIGGER jobs_job_count_delete AFTER DELETE ON jobs_job
    REFERENCING OLD TABLE AS deleted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_job_count_deleted()""",
]
STATEMENT_LEVEL_DROP = [
    "DROP TRIGGER IF EXISTS jobs_job_count_insert ON jobs_job",
    "DROP TRIGGER IF EXISTS jobs_job_count_delete ON jobs_job",
    "DROP FUNCTION IF EXISTS jobs_job_count_inserted()",
    "DROP FUNCTION IF EXISTS jobs_job_count_deleted()",
]


# The swap runs in the migration's transaction: DROP TRIGGER locks jobs_job, so no write
# falls between the old triggers and the new.
def to_statement_level(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER jobs_job_count_insert_delete ON jobs_job")
    for statement in STATEMENT_LEVEL:
        schema_editor.execute(statement)


def to_row_level(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in STATEMENT_LEVEL_DROP:
        schema_editor.execute(statement)
    schema_editor.execute(ROW_LEVEL_INSERT_DELETE)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0011_search_anywhere_and_kinds")]

    operations = [migrations.RunPython(to_statement_level, to_row_level)]
