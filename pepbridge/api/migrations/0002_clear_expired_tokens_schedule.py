"""Clear expired OAuth tokens hourly with the toolkit's clear_expired (a django-q2 Schedule).

Idempotent (update_or_create by name) and reversible; the name is documented in
docs/credentials.md.
"""

from django.db import migrations

NAME = "api: clear expired OAuth tokens"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "oauth2_provider.models.clear_expired",
            "schedule_type": "H",
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_credentials"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
