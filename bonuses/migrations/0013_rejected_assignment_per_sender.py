"""Key refused assign-bonus requests on the PEP instance (sender), not on the credential.

Like 0009 for BonusAssignment: every existing row gets the sender "pep", the default of every
existing credential (api 0003). Rows that recorded one body under one requestId through two
credentials cannot all be "pep": the oldest keeps it, each later copy is marked "legacy-<id>",
so no row is lost, each stays visible to staff and the new unique constraint holds.
Reversible: going back drops the sender and restores the per-credential constraint (which the
rows still satisfy: each credential has one sender).
"""

from django.db import migrations, models
from django.db.models import Count


def _separate_earlier_duplicates(apps, schema_editor):
    rejected = apps.get_model("bonuses", "RejectedAssignment")
    repeated = (
        rejected.objects.values("request_id", "fingerprint")
        .annotate(copies=Count("pk"))
        .filter(copies__gt=1)
    )
    for key in repeated.iterator():
        rows = rejected.objects.filter(
            request_id=key["request_id"], fingerprint=key["fingerprint"]
        ).order_by("first_seen_at", "pk")
        for row in list(rows)[1:]:
            rejected.objects.filter(pk=row.pk).update(sender=f"legacy-{row.pk}")


class Migration(migrations.Migration):
    dependencies = [
        ("bonuses", "0012_new_bonuses_refuse_amount_overrides"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="rejectedassignment",
            name="rejectedassignment_one_per_body",
        ),
        migrations.AddField(
            model_name="rejectedassignment",
            name="sender",
            field=models.CharField(default="pep", max_length=64),
        ),
        migrations.RunPython(_separate_earlier_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="rejectedassignment",
            constraint=models.UniqueConstraint(
                fields=("sender", "request_id", "fingerprint"),
                name="rejectedassignment_one_per_sender_body",
            ),
        ),
    ]
