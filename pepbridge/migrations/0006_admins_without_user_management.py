"""Take user and group management (auth add/change/delete) away from the Admins group.

Whoever may change a user may tick "superuser status" on their own account, or add themselves to
any group: `auth.change_user` is superuser in all but name. Held by a group, it made every Admin
a superuser whose actions the group map did not show. Admins keep seeing users and groups; staff
accounts are created and given groups by superusers, a short named list (docs/back-office.md).
Reversible: the reverse gives the permissions back.
"""

from django.db import migrations

GROUP = "Admins"
CODENAMES = [
    f"{action}_{model}"
    for action in ("add", "change", "delete")
    for model in ("user", "group", "permission")
]


def _group_and_permissions(apps):
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="auth", codename__in=CODENAMES
    )
    return group, permissions


def narrow(apps, schema_editor):
    group, permissions = _group_and_permissions(apps)
    if group is not None:
        group.permissions.remove(*permissions)


def widen(apps, schema_editor):
    group, permissions = _group_and_permissions(apps)
    if group is not None:
        group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [("pepbridge", "0005_staff_action_admin_kinds")]

    operations = [migrations.RunPython(narrow, widen)]
