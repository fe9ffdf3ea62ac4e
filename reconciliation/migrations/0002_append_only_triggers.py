"""On PostgreSQL, refuse UPDATE and DELETE of audit rows in SQL too (a trigger per table).

Only on PostgreSQL: SQLite is the embedded development database. TRUNCATE is left alone on
purpose: test runners flush tables with it, and only the table owner may run it (the
application's database role should not own the tables in production; docs/reconciliation.md).
"""

from django.db import migrations

TABLES = (
    "reconciliation_reconciliationrequest",
    "reconciliation_reconciliationitem",
    "reconciliation_auditstep",
)

FUNCTION = """
CREATE OR REPLACE FUNCTION reconciliation_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'reconciliation audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # no placeholders: keep the % literal
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION reconciliation_append_only()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS reconciliation_append_only()")


class Migration(migrations.Migration):
    dependencies = [("reconciliation", "0001_audit_trail")]

    operations = [migrations.RunPython(create, drop)]
