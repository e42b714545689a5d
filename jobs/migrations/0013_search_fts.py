"""SQLite: a trigram full-text index of job names and task IDs, for the list's search.

PostgreSQL serves the search from pg_trgm indexes (0005, 0011); SQLite had no index for
`LIKE '%term%'`, so a rare term read the whole table. `jobs_job_search` is an FTS5 table
with the trigram tokenizer over `jobs_job` (external content: it stores only the index,
not a copy of the text), case-folded, with `detail=none` and `columnsize=0` (no
positions, no per-row sizes: 45 MB for 1M jobs; the search ANDs trigrams of the term
and rechecks the LIKE, jobs/search.py). Triggers keep it exact whatever writes the jobs
(ORM, bulk, raw SQL, cascades). `JobSearch` is the table seen by the ORM (unmanaged).

Where SQLite lacks FTS5 this does nothing but warn, and the search stays a scan.
"""

import logging
import sqlite3

import django.db.models.deletion
from django.db import migrations, models

logger = logging.getLogger(__name__)

CREATE = [
    """CREATE VIRTUAL TABLE jobs_job_search USING fts5(
        name, external_id, content='jobs_job', content_rowid='id',
        tokenize='trigram case_sensitive 0', detail=none, columnsize=0)""",
    # An external-content index forgets a row only when told its old text.
    """CREATE TRIGGER jobs_job_search_insert AFTER INSERT ON jobs_job BEGIN
        INSERT INTO jobs_job_search (rowid, name, external_id)
        VALUES (NEW.id, NEW.name, NEW.external_id);
    END""",
    """CREATE TRIGGER jobs_job_search_delete AFTER DELETE ON jobs_job BEGIN
        INSERT INTO jobs_job_search (jobs_job_search, rowid, name, external_id)
        VALUES ('delete', OLD.id, OLD.name, OLD.external_id);
    END""",
    # `save()` writes every column: only a real change of the text touches the index.
    """CREATE TRIGGER jobs_job_search_update AFTER UPDATE OF id, name, external_id ON jobs_job
    WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name
         OR OLD.external_id IS NOT NEW.external_id BEGIN
        INSERT INTO jobs_job_search (jobs_job_search, rowid, name, external_id)
        VALUES ('delete', OLD.id, OLD.name, OLD.external_id);
        INSERT INTO jobs_job_search (rowid, name, external_id)
        VALUES (NEW.id, NEW.name, NEW.external_id);
    END""",
    # The backfill: index every existing job from the content table.
    "INSERT INTO jobs_job_search (jobs_job_search) VALUES ('rebuild')",
]
DROP = [
    "DROP TRIGGER IF EXISTS jobs_job_search_insert",
    "DROP TRIGGER IF EXISTS jobs_job_search_delete",
    "DROP TRIGGER IF EXISTS jobs_job_search_update",
    "DROP TABLE IF EXISTS jobs_job_search",
]


def has_fts5_trigram(raw: sqlite3.Connection) -> bool:
    try:
        raw.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError:  # no such module: fts5, or no trigram (< 3.34)
        return False
    raw.execute("DROP TABLE temp.fts5_probe")
    return True


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    if not has_fts5_trigram(connection.connection):
        logger.warning(
            "SQLite %s has no FTS5 trigram tokenizer: the job search will scan jobs_job",
            sqlite3.sqlite_version,
        )
        return
    for statement in CREATE:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0012_state_count_statement_triggers")]

    operations = [
        migrations.RunPython(create, drop),
        migrations.CreateModel(
            name="JobSearch",
            fields=[
                (
                    "job",
                    models.OneToOneField(
                        db_column="rowid",
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="fts",
                        serialize=False,
                        to="jobs.job",
                    ),
                ),
                ("document", models.TextField(db_column="jobs_job_search")),
            ],
            options={"db_table": "jobs_job_search", "managed": False},
        ),
    ]
