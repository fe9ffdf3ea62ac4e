"""Indexes for the player admin's filters (docs/back-office.md, "Large tables").

The list is ordered by -id, so each index is (filtered column, id): the rare values the filters
exist for (blocked or closed accounts, self-excluded, at-risk players) are read in list order
and counted without a table scan. For the common value (active, not flagged) the planner walks
the primary key instead and stops after a page. `erased_at` alone serves "erased" (IS NOT NULL).
The KYC filter was dropped instead of indexed: KYC is neither sent to PEP nor a reason to refuse
a bonus, so nobody at the bridge filters by it.

Written as SQL, not AddIndex: the models' Meta is outside this change. When players/models.py
next changes, declare them in Meta.indexes under the same names with a state-only migration
(SeparateDatabaseAndState with AddIndex in state_operations). The SQL runs on SQLite and
PostgreSQL alike.
"""

from django.db import migrations

INDEXES = {
    "player_account_status_idx": '"account_status", "id"',
    "player_self_excluded_idx": '"self_excluded", "id"',
    "player_at_risk_idx": '"at_risk", "id"',
    "player_erased_at_idx": '"erased_at"',
}


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0002_player_search_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX "{name}" ON "players_player" ({columns})',
            reverse_sql=f'DROP INDEX "{name}"',
        )
        for name, columns in INDEXES.items()
    ]
