"""Drop the `varchar_pattern_ops` copy of `replay_key`'s unique index (PostgreSQL).

Django adds it beside the unique index of a CharField for `LIKE 'prefix%'` searches; nothing
searches replay keys by prefix, and the replay check's equality is served by the unique index.
It was one more index write in the insert every PEP webhook request makes (docs/webhooks.md
§4). SQLite never had it. Reversible: created again as Django names and defines it.
"""

from django.db import migrations


def _like_index(apps, schema_editor):
    model = apps.get_model("webhooks", "WebhookDelivery")
    field = model._meta.get_field("replay_key")
    name = schema_editor._create_index_name(model._meta.db_table, [field.column], suffix="_like")
    return model, field, name


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _, _, name = _like_index(apps, schema_editor)
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        model, field, _ = _like_index(apps, schema_editor)
        schema_editor.execute(schema_editor._create_like_index_sql(model, field))


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0006_delivery_split_at")]

    operations = [migrations.RunPython(drop_index, create_index, elidable=False)]
