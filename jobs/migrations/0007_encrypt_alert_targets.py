"""Alert rule targets are encrypted at rest: robot webhook URLs carry their access token
(DingTalk access_token, WeCom key, Feishu hook id).

The column becomes text first, the existing rows are encrypted in place, and only then
does the field become the encrypting one, so no step reads a plain value as a token.
"""

from django.db import migrations, models

import jobs.crypto


def encrypt_targets(apps, schema_editor):
    from jobs.crypto import _TOKEN_PREFIX, encrypt

    AlertRule = apps.get_model("jobs", "AlertRule")
    for pk, target in AlertRule.objects.values_list("pk", "target"):
        if not target.startswith(_TOKEN_PREFIX):
            AlertRule.objects.filter(pk=pk).update(target=encrypt(target))


def decrypt_targets(apps, schema_editor):
    from jobs.crypto import _TOKEN_PREFIX, decrypt

    AlertRule = apps.get_model("jobs", "AlertRule")
    for pk, target in AlertRule.objects.values_list("pk", "target"):
        if target.startswith(_TOKEN_PREFIX):
            AlertRule.objects.filter(pk=pk).update(target=decrypt(target))


class Migration(migrations.Migration):
    dependencies = [("jobs", "0006_accounts_alert_rule_unique_name")]

    operations = [
        migrations.AlterField(
            model_name="alertrule", name="target", field=models.TextField()
        ),
        migrations.RunPython(encrypt_targets, decrypt_targets),
        migrations.AlterField(
            model_name="alertrule",
            name="target",
            field=jobs.crypto.EncryptedTextField(),
        ),
    ]
