"""PostgreSQL indexes for the job search (`name` contains, `external_id` starts with).

The search is an OR of three conditions, so PostgreSQL can only avoid a full scan when
every branch has an index: a trigram GIN index for the case-insensitive `contains` and a
pattern index for the prefix match. SQLite has neither kind; there it stays a scan.
"""

from django.db import migrations

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS job_name_trgm ON jobs_job USING gin (UPPER(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS job_external_id_pattern ON jobs_job (external_id varchar_pattern_ops)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS job_name_trgm",
    "DROP INDEX IF EXISTS job_external_id_pattern",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_discovery_alerts_api")]

    operations = [migrations.RunPython(create, drop)]
