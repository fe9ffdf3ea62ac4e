"""Create the django-q2 schedule of the reconciliation re-check (every N minutes).

RECONCILIATION_RECHECK_MINUTES is read when the migration runs; to change it later, edit the
"reconciliation.recheck" schedule in the admin (Task queue > Scheduled tasks).
"""

from django.conf import settings
from django.db import migrations

NAME = "reconciliation.recheck"


def create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "reconciliation.tasks.recheck",
            "schedule_type": "I",  # minutes
            "minutes": settings.RECONCILIATION_RECHECK_MINUTES,
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0002_append_only_triggers"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
