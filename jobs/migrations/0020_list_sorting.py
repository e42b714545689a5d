"""The job list's sorts: `Job.changed_at` (when the newest event happened, the list's "Last
change"), kept by a trigger on jobs_jobevent, and an index for each sort key.

A trigger rather than the writers: seven code paths append events (status, episodes,
watching, cancel, bulk, not-found...), and like the state counters (0003) the column must
stay true whatever writes. The refresh engine's status writer also sets it in the UPDATE
it sends anyway, so there the trigger finds the row current and writes nothing: its cost
is one primary-key probe per event. An event older than the column (an out-of-order
insert) leaves it alone: it keeps the newest event's time, as the list's subquery did; an
edited event's time recomputes it. Events are only deleted with their job, so deletes
need nothing (and a cascade of a job's events would otherwise rewrite it per event).

The backfill reads each job's newest event through jobevent_job_at before the indexes
are built. Written as 0020 on top of 0018 (0019 is another branch's).
"""

import django.db.models.expressions
import django.db.models.functions.comparison
from django.db import migrations, models

BACKFILL = """UPDATE jobs_job SET changed_at = (
    SELECT MAX(at) FROM jobs_jobevent WHERE jobs_jobevent.job_id = jobs_job.id)"""
# An event whose time or job is edited (nothing in Clapboard does; a hand in the admin or
# a script might) recomputes the newest, through jobevent_job_at.
RECOMPUTE = """UPDATE jobs_job SET changed_at = (
        SELECT MAX(at) FROM jobs_jobevent WHERE jobs_jobevent.job_id = jobs_job.id)
    WHERE id IN (OLD.job_id, NEW.job_id)"""
SQLITE = [
    """CREATE TRIGGER jobs_jobevent_changed AFTER INSERT ON jobs_jobevent BEGIN
        UPDATE jobs_job SET changed_at = NEW.at
        WHERE id = NEW.job_id AND (changed_at IS NULL OR changed_at < NEW.at);
    END""",
    f"""CREATE TRIGGER jobs_jobevent_changed_edit AFTER UPDATE OF at, job_id ON jobs_jobevent
    BEGIN {RECOMPUTE}; END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS jobs_jobevent_changed",
    "DROP TRIGGER IF EXISTS jobs_jobevent_changed_edit",
]
POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION jobs_jobevent_changed() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE jobs_job SET changed_at = NEW.at
            WHERE id = NEW.job_id AND (changed_at IS NULL OR changed_at < NEW.at);
        ELSE
            {RECOMPUTE};
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER jobs_jobevent_changed AFTER INSERT ON jobs_jobevent
    FOR EACH ROW EXECUTE FUNCTION jobs_jobevent_changed()""",
    """CREATE TRIGGER jobs_jobevent_changed_edit AFTER UPDATE OF at, job_id ON jobs_jobevent
    FOR EACH ROW WHEN (OLD.at IS DISTINCT FROM NEW.at OR OLD.job_id IS DISTINCT FROM NEW.job_id)
    EXECUTE FUNCTION jobs_jobevent_changed()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS jobs_jobevent_changed ON jobs_jobevent",
    "DROP TRIGGER IF EXISTS jobs_jobevent_changed_edit ON jobs_jobevent",
    "DROP FUNCTION IF EXISTS jobs_jobevent_changed()",
]


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(vendor)
    if statements is None:
        raise RuntimeError(f"Job.changed_at has no trigger for {vendor}")
    schema_editor.execute(BACKFILL)
    for statement in statements:
        schema_editor.execute(statement)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0019_resubmit"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce("created_at", "tracked_at"),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="job_sort_created",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce("changed_at", "tracked_at"),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="job_sort_changed",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce(
                        "duration_ms",
                        django.db.models.expressions.RawSQL("-1", ()),
                        output_field=models.BigIntegerField(),
                    ),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="job_sort_duration",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce(
                        "progress",
                        django.db.models.expressions.RawSQL("-1", ()),
                        output_field=models.BigIntegerField(),
                    ),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="job_sort_progress",
            ),
        ),
    ]
