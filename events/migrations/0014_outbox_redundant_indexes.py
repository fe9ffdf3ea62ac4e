"""Drop three outbox indexes that no query uses, each a write on every insert (and on every
update that is not heap-only).

- `dedup_key`'s and the lane key's `varchar_pattern_ops` copies, which Django adds on
  PostgreSQL beside a unique or primary key index of a CharField for `LIKE 'prefix%'`: nothing
  searches these columns by prefix, and equality is served by the unique index.
- The `subscription` foreign key's own index: `outbox_subscription_idx` (subscription,
  created_at) starts with the same column and serves the same lookups (the PROTECT check when a
  subscription is deleted, the admin's filter).

The key's field is changed in the migration state only (`db_index=False`): letting Django alter
it would drop and re-add the foreign key constraint, and re-adding it reads the whole outbox
under a lock that blocks writes. Dropping an index is quick but takes a brief exclusive lock on
the table: deploy at a quiet moment. Reversible: the indexes are created again as Django names
and defines them.
"""

from django.db import migrations, models


def _like_indexes(apps, schema_editor):
    """(model, field, index name) of the `_like` copies, named as Django's schema editor does."""
    message = apps.get_model("events", "OutboxMessage")
    lane = apps.get_model("events", "OutboxLane")
    for model, name in ((message, "dedup_key"), (lane, "player_id")):
        field = model._meta.get_field(name)
        table = model._meta.db_table
        yield model, field, schema_editor._create_index_name(table, [field.column], suffix="_like")


def _foreign_key_index(apps, schema_editor):
    model = apps.get_model("events", "OutboxMessage")
    field = model._meta.get_field("subscription")
    name = schema_editor._create_index_name(model._meta.db_table, [field.column])
    return model, field, name


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    _, _, name = _foreign_key_index(apps, schema_editor)
    schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")
    if schema_editor.connection.vendor == "postgresql":
        for _, _, like in _like_indexes(apps, schema_editor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(like)}")


def create_indexes(apps, schema_editor):
    model, field, _ = _foreign_key_index(apps, schema_editor)
    schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
    if schema_editor.connection.vendor == "postgresql":
        for like_model, like_field, _ in _like_indexes(apps, schema_editor):
            schema_editor.execute(schema_editor._create_like_index_sql(like_model, like_field))


class Migration(migrations.Migration):
    dependencies = [("events", "0013_outbox_fillfactor")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="outboxmessage",
                    name="subscription",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="events.webhooksubscription",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_indexes, create_indexes, elidable=False),
            ],
        ),
    ]
