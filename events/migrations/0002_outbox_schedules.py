"""Create the django-q2 schedules of the outbox sweep and prune.

Same rows as events.services.setup_schedules (which `manage.py outbox_schedules` runs after
OUTBOX_SWEEP_MINUTES changes); repeated here because migrations must not import app code.
"""

from django.conf import settings
from django.db import migrations

SWEEP = "events.outbox_sweep"
PRUNE = "events.outbox_prune"


def create(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.update_or_create(
        name=SWEEP,
        defaults={
            "func": "events.tasks.sweep",
            "schedule_type": "I",  # minutes
            "minutes": settings.OUTBOX_SWEEP_MINUTES,
            "repeats": -1,
        },
    )
    schedule.objects.update_or_create(
        name=PRUNE, defaults={"func": "events.tasks.prune", "schedule_type": "H", "repeats": -1}
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[SWEEP, PRUNE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_outbox"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
