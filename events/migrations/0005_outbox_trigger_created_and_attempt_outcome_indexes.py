"""Indexes for the delivery admin's filters that had none (docs/back-office.md, "Large tables").

- Outbox `trigger` filter: (trigger, created_at). Nearly every row is "scheduled"; the filter is
  for the rare "manual" / "replay" rows, which this finds and counts without a table scan (and
  together with the date filter as a range).
- Outbox date filter without a status filter: (created_at). Its choices (today, past 7 days,
  this month, this year) are ranges ending now; the list's exact count of them was a table scan.
- Attempt `outcome` filter: (outcome, started_at), for "retry" and "failed" (the rare outcomes),
  alone or with the date filter. The attempts' `trigger` filter was dropped instead (the
  outbox's answers "which messages were replayed" without an index on the biggest table).

Written as SQL, not AddIndex: the models' Meta is outside this change. When events/models.py
next changes, declare them in Meta.indexes under the same names with a state-only migration
(SeparateDatabaseAndState with AddIndex in state_operations). The SQL runs on SQLite and
PostgreSQL alike.
"""

from django.db import migrations

INDEXES = {
    "outbox_trigger_created_idx": ("events_outboxmessage", '"trigger", "created_at"'),
    "outbox_created_idx": ("events_outboxmessage", '"created_at"'),
    "attempt_outcome_started_idx": ("events_deliveryattempt", '"outcome", "started_at"'),
}


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_attempt_started_index"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX "{name}" ON "{table}" ({columns})',
            reverse_sql=f'DROP INDEX "{name}"',
        )
        for name, (table, columns) in INDEXES.items()
    ]
