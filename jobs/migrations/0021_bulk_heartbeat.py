"""Bulk runs that outlive their worker: a heartbeat, the position reached, and how often
the sweep resumed the run (jobs.services.bulk_recovery); CSV exports in the audit log."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0020_list_sorting"),
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
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("track", "Track"),
                    ("submit", "Submit"),
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
                    ("export", "Export CSV"),
                ],
                max_length=24,
            ),
        ),
    ]
