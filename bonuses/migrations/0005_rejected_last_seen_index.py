"""Index what the rejected-requests admin filters on (last_seen_at) and the daily prune reads."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bonuses", "0004_player_bonus_expiry_and_actions"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="rejectedassignment",
            index=models.Index(fields=["-last_seen_at"], name="rejected_last_seen"),
        ),
    ]
