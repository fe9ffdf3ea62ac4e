"""Register the periodic bonus tasks with django-q2 (lost-task sweep every minute, daily prune)."""

from django.db import migrations

SCHEDULES = {
    "bonuses: assign-bonus sweep": ("bonuses.tasks.assignment_sweep_task", "I", 1),
    "bonuses: assign-bonus prune": ("bonuses.tasks.assignment_prune_task", "D", None),
}


def add_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, schedule_type, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": schedule_type,
                "minutes": minutes,
                "repeats": -1,
            },
        )


def remove_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bonuses", "0001_catalogue_grants_assignments"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
