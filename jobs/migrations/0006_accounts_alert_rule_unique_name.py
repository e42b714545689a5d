"""Alert rule names are unique per owner (ignoring case).

Rules that already share a name are renamed first ("Failures (2)", "Failures (3)"...),
oldest keeping its name, so the constraint can be added to any existing database.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Lower

NAME_MAX = 100


def rename_duplicates(apps, schema_editor):
    AlertRule = apps.get_model("jobs", "AlertRule")
    taken: dict[tuple[int, str], int] = {}
    names: set[tuple[int, str]] = set(
        (owner_id, name.lower())
        for owner_id, name in AlertRule.objects.values_list("owner_id", "name")
    )
    for rule in AlertRule.objects.order_by("owner_id", "id").only("id", "owner_id", "name"):
        key = (rule.owner_id, rule.name.lower())
        if key not in taken:
            taken[key] = 1
            continue
        number = taken[key]
        while True:
            number += 1
            suffix = f" ({number})"
            candidate = rule.name[: NAME_MAX - len(suffix)] + suffix
            if (rule.owner_id, candidate.lower()) not in names:
                break
        taken[key] = number
        names.add((rule.owner_id, candidate.lower()))
        AlertRule.objects.filter(pk=rule.pk).update(name=candidate)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="alertrule",
            constraint=models.UniqueConstraint(
                models.F("owner"), Lower("name"), name="alertrule_owner_name"
            ),
        ),
    ]
