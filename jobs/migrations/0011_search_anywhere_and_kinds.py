"""Task-ID search matches anywhere in the ID, and the list's Kind filter is a choice.

PostgreSQL serves `UPPER(external_id) LIKE UPPER('%term%')` (Django's `icontains`) from a
trigram GIN index, as 0005 does for names. `job_kind` lets the list read the distinct
kinds with one index seek per kind, on both databases. SQLite has no trigram index: there
the ID search stays a scan (bench/pages.py measures it).
"""

from django.db import migrations, models

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS job_external_id_trgm ON jobs_job"
    " USING gin (UPPER(external_id) gin_trgm_ops)",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS job_external_id_trgm"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0010_track_batches")]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["kind"], name="job_kind"),
        ),
        migrations.RunPython(create, drop),
    ]
