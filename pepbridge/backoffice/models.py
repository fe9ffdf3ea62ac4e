"""Back-office permissions that belong to no single model (docs/back-office.md).

They live on an unmanaged model of the `pepbridge` app so that the apps whose data they guard
(events, players) need no change to their models or migrations.
"""

from __future__ import annotations

from django.db import models

# Codenames, checked as "pepbridge.<codename>".
REPLAY_DELIVERIES = "replay_outboxmessage"
RESYNC_PLAYER = "resync_player"
VIEW_PERSONAL_DATA = "view_personal_data"


class BackOfficePermission(models.Model):
    """Holder of the back office's own permissions; it has no table and no rows."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "back-office permission"
        permissions = [
            (REPLAY_DELIVERIES, "Can replay failed deliveries to PEP"),
            (RESYNC_PLAYER, "Can re-sync a player to PEP"),
            (VIEW_PERSONAL_DATA, "Can see players' personal data"),
        ]

    def __str__(self) -> str:
        return "back-office permission"


def has_backoffice_perm(user: object, codename: str) -> bool:
    """Whether `user` holds one of the permissions above (superusers hold them all)."""
    has_perm = getattr(user, "has_perm", None)
    return bool(has_perm and has_perm(f"pepbridge.{codename}"))
