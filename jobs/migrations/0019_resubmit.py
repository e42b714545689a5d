"""Resubmit: the parameters a job was submitted with, and the job it resubmitted.

Both columns are nullable without a default, so SQLite adds them in place (ALTER TABLE
ADD COLUMN). Going back is another matter there: SQLite cannot drop a foreign-key column,
so Django rebuilds jobs_job, and the rebuilt table has lost the triggers that keep the
state counts (0003) and the search index (0013). The reverse notes them before the
columns go (the last operation) and puts back those that went (the first one).
"""

import django.db.models.deletion
from django.db import migrations, models

_TRIGGERS = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'jobs_job'"
_noted: dict[str, str] = {}


def _triggers(schema_editor) -> dict[str, str]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_TRIGGERS)
        return dict(cursor.fetchall())


def note_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        _noted.clear()
        _noted.update(_triggers(schema_editor))


def restore_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        kept = _triggers(schema_editor)
        for name, sql in _noted.items():
            if name not in kept:
                schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0018_account_alerts"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_triggers),
        migrations.AddField(
            model_name="job",
            name="resubmission_of",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="resubmissions",
                to="jobs.job",
            ),
        ),
        migrations.AddField(
            model_name="job",
            name="submit_params",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("track", "Track"),
                    ("submit", "Submit"),
                    ("resubmit", "Resubmit"),
                    ("refresh", "Refresh now"),
                    ("stop_watching", "Stop watching"),
                    ("watch_again", "Watch again"),
                    ("cancel", "Cancel"),
                    ("share_create", "Share link created"),
                    ("share_revoke", "Share link revoked"),
                    ("token_create", "API token created"),
                    ("token_revoke", "API token revoked"),
                    ("rule_create", "Alert rule created"),
                    ("rule_change", "Alert rule changed"),
                    ("rule_delete", "Alert rule deleted"),
                    ("account_create", "Account added"),
                    ("account_change", "Account changed"),
                    ("account_delete", "Account deleted"),
                    ("bulk", "Bulk action"),
                ],
                max_length=24,
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, note_triggers),
    ]
