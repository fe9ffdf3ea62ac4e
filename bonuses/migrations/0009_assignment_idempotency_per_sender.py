"""Key assign-bonus idempotency on the PEP instance (sender), not on the credential.

Every existing request gets the sender "pep", the default of every existing credential
(api 0003). Requests that were accepted twice under one requestId through two credentials (the
bug this fixes) cannot all be "pep": the oldest keeps it, each later copy is marked
"legacy-<id>" so it stays visible to staff and the new unique constraint holds.
"""

from django.db import migrations, models
from django.db.models import Count


def _separate_earlier_duplicates(apps, schema_editor):
    assignment = apps.get_model("bonuses", "BonusAssignment")
    repeated = (
        assignment.objects.values("request_id")
        .annotate(copies=Count("pk"))
        .filter(copies__gt=1)
        .values_list("request_id", flat=True)
    )
    for request_id in repeated.iterator():
        rows = assignment.objects.filter(request_id=request_id).order_by("received_at", "pk")
        for row in list(rows)[1:]:
            assignment.objects.filter(pk=row.pk).update(sender=f"legacy-{row.pk}")


class Migration(migrations.Migration):
    dependencies = [
        ("bonuses", "0008_assignment_failed_with_reason"),
        ("api", "0003_credential_sender"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="bonusassignment",
            name="bonusassignment_one_per_request",
        ),
        migrations.AddField(
            model_name="bonusassignment",
            name="sender",
            field=models.CharField(default="pep", max_length=64),
        ),
        migrations.RunPython(_separate_earlier_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="bonusassignment",
            constraint=models.UniqueConstraint(
                fields=("sender", "request_id"), name="bonusassignment_one_per_sender_request"
            ),
        ),
    ]
