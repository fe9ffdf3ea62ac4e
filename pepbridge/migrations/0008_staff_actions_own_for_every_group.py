"""Every staff group sees its own staff actions; Compliance and Admins see everyone's.

A bonus manager checks what they cancelled and why (issue 13) without reading what others did.
Reversible: the groups lose the grants and the new permission is removed.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OWN = ("Support", "Bonus managers")
ALL = ("Compliance", "Admins")


def _permission(apps, codename):
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="pepbridge", codename=codename
    )


def grant(apps, schema_editor):
    config = apps.get_app_config("pepbridge")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    groups = apps.get_model("auth", "Group").objects
    view, view_all = (
        _permission(apps, "view_staffaction"),
        _permission(apps, "view_all_staffaction"),
    )
    for group in groups.filter(name__in=OWN):
        group.permissions.add(view)
    for group in groups.filter(name__in=ALL):
        group.permissions.add(view_all)


def withdraw(apps, schema_editor):
    permissions = apps.get_model("auth", "Permission").objects
    view = permissions.get(content_type__app_label="pepbridge", codename="view_staffaction")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=OWN):
        group.permissions.remove(view)
    permissions.filter(
        content_type__app_label="pepbridge", codename="view_all_staffaction"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("pepbridge", "0007_staff_action_webhook_kinds")]

    operations = [
        migrations.AlterModelOptions(
            name="staffaction",
            options={
                "default_permissions": ("view",),
                "permissions": [("view_all_staffaction", "Can view every staff member's actions")],
                "verbose_name": "staff action",
            },
        ),
        migrations.RunPython(grant, withdraw),
    ]
