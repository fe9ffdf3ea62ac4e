"""Indexes for support's case-insensitive prefix search on username and e-mail (issue 13).

The admin searches `LOWER(col) LIKE 'term%'` (pepbridge.backoffice.admin_tools.ExactSearchMixin);
on PostgreSQL that is one range scan of an index on LOWER(col) with text_pattern_ops (the
pattern opclass makes LIKE usable under any collation). SQLite has no such index and no need:
its tables are small. Reversible: the indexes are dropped.
"""

from django.db import migrations

INDEXES = {
    "player_username_lower_prefix": "username",
    "player_email_lower_prefix": "email",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON players_player "
            f"((LOWER({column}::text)) text_pattern_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("players", "0003_player_status_and_flag_indexes")]

    operations = [migrations.RunPython(create, drop)]
