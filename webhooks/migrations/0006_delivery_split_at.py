"""Deliveries are split into inbox events by the worker, not by the request (docs/webhooks.md §4).

Every delivery stored before this migration was split by its request, so it is marked split as
of its receipt. Going back is refused while a delivery waits to be split: the older code would
never split it, and its events would sit unprocessed in the body column.
"""

from django.db import migrations, models
from django.db.models import F


def mark_split(apps, schema_editor):
    delivery = apps.get_model("webhooks", "WebhookDelivery")
    delivery.objects.filter(split_at__isnull=True).update(split_at=F("received_at"))


def refuse_unsplit(apps, schema_editor):
    waiting = apps.get_model("webhooks", "WebhookDelivery").objects.filter(split_at__isnull=True)
    count = waiting.count()
    if count:
        raise RuntimeError(
            f"{count} webhook deliveries are not split into events yet: let the worker process "
            "them (or pause PEP's webhooks until it has) before migrating back."
        )


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0005_rewards_cursor_view_rights")]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="split_at",
            field=models.DateTimeField(
                blank=True, help_text="When its events went into the inbox (the worker)", null=True
            ),
        ),
        migrations.RunPython(mark_split, refuse_unsplit, elidable=False),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(split_at__isnull=True),
                fields=["id"],
                name="webhookdelivery_unsplit_idx",
            ),
        ),
    ]
