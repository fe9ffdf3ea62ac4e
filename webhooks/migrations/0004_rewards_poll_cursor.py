"""The rewards poller's cursor, the "polled" delivery form, and its per-minute schedule (the
task does nothing while PEP_REWARDS_POLL_SECONDS is 0)."""

from django.db import migrations, models

NAME = "webhooks: rewards poll"


def add_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "webhooks.tasks.rewards_poll_task",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_staff_group_rights"),
    ]

    operations = [
        migrations.CreateModel(
            name="RewardsCursor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(default="rewards", max_length=32, unique=True)),
                ("delta", models.CharField(blank=True, max_length=64)),
                ("next_page", models.CharField(blank=True, max_length=512)),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
                ("recent_requests", models.JSONField(blank=True, default=list)),
                ("last_polled_at", models.DateTimeField(blank=True, null=True)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("rewards_seen", models.PositiveBigIntegerField(default=0)),
                ("bonus_offers_stored", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="signed_form",
            field=models.CharField(
                choices=[
                    ("raw", "Body as sent"),
                    ("compact", "Compact re-serialisation"),
                    ("poll", "Polled (Data Fetch API, not signed)"),
                ],
                max_length=8,
            ),
        ),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
