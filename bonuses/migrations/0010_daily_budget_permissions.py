"""Give the staff groups their rights on the daily grant budgets (docs/back-office.md).

Admins may add and change a budget; every group that sees bonuses may view them. Bonus managers
do not change the budget that caps their own grants. Nobody deletes one (the admin denies it:
a budget is lifted by raising it, so each change keeps who made it).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RIGHTS = {
    "Admins": ["view", "add", "change"],
    "Bonus managers": ["view"],
    "Compliance": ["view"],
    "Support": ["view"],
}


def grant(apps, schema_editor):
    # Permissions are normally made after `migrate` (post_migrate); make these now.
    app_config = apps.get_app_config("bonuses")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=RIGHTS):
        codenames = [f"{right}_dailygrantbudget" for right in RIGHTS[group.name]]
        group.permissions.add(
            *permission.objects.filter(content_type__app_label="bonuses", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group")
    for row in group.objects.filter(name__in=RIGHTS):
        row.permissions.remove(
            *permission.objects.filter(
                content_type__app_label="bonuses", codename__endswith="_dailygrantbudget"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bonuses", "0009_assignment_idempotency_per_sender"),
        ("pepbridge", "0003_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
