"""Why an item is in its status (RepairState.reason), a "re-opened" step, and the indexes behind
the admin's filters (step kind; item field, status and reason).

Existing items get their reason from their status, or for failed items from the detail of their
"failed" step; reversing drops the column, so the backfill needs no undo.
"""

from django.db import migrations, models

_FAILED_DETAILS = (
    ("the player was erased", "player_erased"),
    ("not a profile field the bridge knows", "unknown_field"),
    ("the held value does not pass", "invalid_value"),
    ("PEP did not take the update", "pep_refused"),
)


def backfill_reasons(apps, schema_editor):
    states = apps.get_model("reconciliation", "RepairState").objects
    states.filter(status="unknown_player").update(reason="no_such_player")
    states.filter(status="waiting_for_operator").update(reason="no_value")
    for prefix, reason in _FAILED_DETAILS:
        states.filter(
            status="failed", item__steps__kind="failed", item__steps__detail__startswith=prefix
        ).update(reason=reason)


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0003_recheck_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="repairstate",
            name="reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("no_such_player", "The bridge does not know the player"),
                    ("no_value", "The bridge holds no value"),
                    ("player_erased", "The player was erased"),
                    ("unknown_field", "Not a profile field the bridge knows"),
                    ("invalid_value", "The held value fails PEP's contract"),
                    ("pep_refused", "PEP did not take the update"),
                    ("message_cancelled", "Update cancelled: the player was erased"),
                    ("message_gone", "The outbound message was deleted"),
                    ("resync", "Re-opened by a staff re-sync"),
                ],
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="auditstep",
            name="kind",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("duplicate", "Repeat received"),
                    ("conflict", "Conflicting repeat received"),
                    ("rejected", "Rejected as malformed"),
                    ("details_downloaded", "Feedback details downloaded"),
                    ("details_failed", "Feedback details download failed"),
                    ("unknown_player", "Unknown player"),
                    ("waiting_for_operator", "Waiting for the operator"),
                    ("value_sent", "Value sent to PEP"),
                    ("pep_accepted", "PEP accepted"),
                    ("resolved", "Resolved"),
                    ("failed", "Failed"),
                    ("reopened", "Re-opened"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddIndex(
            model_name="auditstep",
            index=models.Index(fields=["kind", "at", "id"], name="recon_step_kind_idx"),
        ),
        migrations.AddIndex(
            model_name="reconciliationitem",
            index=models.Index(fields=["field", "id"], name="recon_item_field_idx"),
        ),
        migrations.AddIndex(
            model_name="repairstate",
            index=models.Index(fields=["status", "item"], name="recon_state_status_item_idx"),
        ),
        migrations.AddIndex(
            model_name="repairstate",
            index=models.Index(fields=["reason", "item"], name="recon_state_reason_item_idx"),
        ),
        migrations.RunPython(backfill_reasons, migrations.RunPython.noop),
    ]
