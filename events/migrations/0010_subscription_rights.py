"""Give the staff groups their rights on webhook subscriptions (docs/webhooks.md); and, going
back, delete the rows to subscriptions before 0009 drops their target.

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


def drop_forwarded_rows(apps, schema_editor):
    """Going back: rows to a subscription cannot exist without their target (they would be
    taken for requests to PEP), so they and their attempts are deleted. Here, not in 0009: on
    PostgreSQL the deletion leaves deferred constraint checks pending, and 0009's ALTER TABLE
    cannot run in the same transaction."""
    outbox = apps.get_model("events", "OutboxMessage")
    outbox.objects.filter(subscription__isnull=False).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_outbox_targets_and_subscriptions"),
        ("pepbridge", "0003_staff_groups"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, drop_forwarded_rows),
        migrations.RunPython(grant, revoke),
    ]
