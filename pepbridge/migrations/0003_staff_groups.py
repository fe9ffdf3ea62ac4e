"""Create the staff groups and grant their permissions (docs/back-office.md).

Permissions are normally created after `migrate` finishes (post_migrate), so this migration
creates them first from the historical models it depends on. The map is frozen here on purpose:
a later change to a group's rights is a new migration, reviewed like any other.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

VIEW = "view"  # every view_* permission of the app
ALL = "all"  # every permission of the app

# group name -> [(app label, VIEW | ALL | [codenames])]
GROUPS = {
    "Support": [
        ("players", VIEW),
        ("bonuses", VIEW),
        ("events", VIEW),
        ("reconciliation", VIEW),
        ("pepbridge", ["replay_outboxmessage", "resync_player", "view_personal_data"]),
    ],
    "Bonus managers": [
        ("bonuses", VIEW),
        ("bonuses", ["add_bonus", "change_bonus"]),
        ("events", ["view_outboxmessage", "view_deliveryattempt"]),
        ("players", ["view_player"]),
    ],
    "Compliance": [
        ("reconciliation", VIEW),
        ("reconciliation", ["export_audit"]),
        ("players", VIEW),
        ("bonuses", VIEW),
        ("events", VIEW),
    ],
    "Admins": [
        ("players", ALL),
        ("bonuses", ALL),
        ("events", ALL),
        ("reconciliation", ALL),
        ("api", ALL),
        ("oauth2_provider", ALL),
        ("pepbridge", ["replay_outboxmessage", "resync_player", "view_personal_data"]),
        ("auth", ALL),
    ],
}


def _query(specs):
    query = Q(pk__in=[])
    for app_label, codenames in specs:
        app = Q(content_type__app_label=app_label)
        if codenames == VIEW:
            query |= app & Q(codename__startswith="view_")
        elif codenames == ALL:
            query |= app
        else:
            query |= app & Q(codename__in=codenames)
    return query


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, specs in GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(*permission_model.objects.filter(_query(specs)))


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("pepbridge", "0002_backoffice_permissions"),
        ("players", "0001_player"),
        ("bonuses", "0002_schedules"),
        ("events", "0002_outbox_schedules"),
        ("reconciliation", "0003_recheck_schedule"),
        ("api", "0002_clear_expired_tokens_schedule"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
