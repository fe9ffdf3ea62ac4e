"""Drive the player bonus lifecycle: the expiry sweep (index + schedule) and the staff actions.

- `playerbonus_expiry_due`: an index on (status, expires_at) for
  bonuses.services.player_bonus_expire_due.
- The schedule "bonuses: player bonus expiry" runs bonuses.tasks.player_bonus_expire_task every
  five minutes.
- `bonuses.manage_playerbonus` (the admin's cancel and forfeit actions) is created here and given
  to the "Bonus managers" and "Admins" groups of pepbridge.0003_staff_groups: a change to a
  group's rights is a migration of its own, as that migration asks.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

SCHEDULE = "bonuses: player bonus expiry"
PERMISSION = "manage_playerbonus"
GROUPS = ("Bonus managers", "Admins")


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE,
        defaults={
            "func": "bonuses.tasks.player_bonus_expire_task",
            "schedule_type": "I",
            "minutes": 5,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


def grant_permission(apps, schema_editor):
    # Permissions are normally made after `migrate` (post_migrate); make this one now.
    app_config = apps.get_app_config("bonuses")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    permission = apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="bonuses", codename=PERMISSION
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.add(permission)


def revoke_permission(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="bonuses", codename=PERMISSION).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bonuses", "0003_admin_filter_indexes"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The groups must exist before they are given the new permission.
        ("pepbridge", "0003_staff_groups"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="playerbonus",
            options={
                "permissions": [("manage_playerbonus", "Can cancel or forfeit players' bonuses")],
                "verbose_name_plural": "player bonuses",
            },
        ),
        migrations.AddIndex(
            model_name="playerbonus",
            index=models.Index(fields=["status", "expires_at"], name="playerbonus_expiry_due"),
        ),
        migrations.RunPython(add_schedule, remove_schedule),
        migrations.RunPython(grant_permission, revoke_permission),
    ]
