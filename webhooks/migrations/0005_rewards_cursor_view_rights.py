"""Let the staff groups that see webhook deliveries also see the rewards poller's cursor
(read-only in the admin: where the poller is, its last success and error)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = ("Support", "Compliance", "Admins")
CODENAME = "view_rewardscursor"


def _permissions(apps):
    return apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="webhooks", codename=CODENAME
    )


def grant(apps, schema_editor):
    # Permissions are normally made after `migrate` (post_migrate); make this one now.
    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0004_rewards_poll_cursor"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("pepbridge", "0003_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
