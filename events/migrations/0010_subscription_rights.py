"""Give the staff groups their rights on webhook subscriptions (docs/webhooks.md).

Admins may add and change a subscription (create, rotate its secret, enable, disable); Compliance
may see them. Nobody deletes one through a group: a subscription with deliveries is protected,
and is disabled instead.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RIGHTS = {
    "Admins": ["view", "add", "change"],
    "Compliance": ["view"],
}


def grant(apps, schema_editor):
    # Permissions are normally made after `migrate` (post_migrate); make these now.
    app_config = apps.get_app_config("events")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=RIGHTS):
        codenames = [f"{right}_webhooksubscription" for right in RIGHTS[group.name]]
        group.permissions.add(
            *permission.objects.filter(content_type__app_label="events", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group")
    for row in group.objects.filter(name__in=RIGHTS):
        row.permissions.remove(
            *permission.objects.filter(
                content_type__app_label="events", codename__endswith="_webhooksubscription"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_outbox_targets_and_subscriptions"),
        ("pepbridge", "0003_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
