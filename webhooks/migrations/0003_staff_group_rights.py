"""Give the staff groups of pepbridge.0003_staff_groups their rights on the webhook pages.

Support looks at the inbox and may put failed events back; Bonus managers map products and
fulfil purchases; Compliance looks; Admins may do all of it. A change to a group's rights is a
migration of its own, as that migration asks.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RIGHTS = {
    "Support": [
        "view_webhookdelivery",
        "view_inboxevent",
        "change_inboxevent",
        "view_fulfilment",
        "view_productmapping",
    ],
    "Bonus managers": [
        "view_inboxevent",
        "view_fulfilment",
        "change_fulfilment",
        "view_productmapping",
        "add_productmapping",
        "change_productmapping",
    ],
    "Compliance": ["view_webhookdelivery", "view_inboxevent", "view_fulfilment"],
    "Admins": [
        "view_webhookdelivery",
        "view_inboxevent",
        "change_inboxevent",
        "view_fulfilment",
        "change_fulfilment",
        "view_productmapping",
        "add_productmapping",
        "change_productmapping",
        "delete_productmapping",
    ],
}


def grant(apps, schema_editor):
    # Permissions are normally made after `migrate` (post_migrate); make these now.
    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=list(RIGHTS)):
        codenames = RIGHTS[group.name]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="webhooks", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    webhooks = Permission.objects.filter(content_type__app_label="webhooks")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=list(RIGHTS)):
        group.permissions.remove(*webhooks)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_sweep_schedule"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The groups must exist before they are given the rights.
        ("pepbridge", "0003_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
