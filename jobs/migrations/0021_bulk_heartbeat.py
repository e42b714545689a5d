"""Bulk runs that outlive their worker: a heartbeat, the position reached, and how often
the sweep resumed the run (jobs.services.bulk_recovery)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0018_account_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkaction",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkaction",
            name="position",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkaction",
            name="resumed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkaction",
            name="resumes",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
