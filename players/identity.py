"""Which player an identity token names (operator-api §5): the API's validator, then our players.

The validators (`PLAYER_IDENTITY_VALIDATOR`, pepbridge/api/identity.py) only read the token;
whether the player exists is this app's question, so the answer is put together here.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from pepbridge.api.identity import Identity, validator
from players.models import Player

# The API's logger: the line stays where operators already look for identity refusals.
logger = logging.getLogger("pepbridge.api")


def _player_known(player_id: str) -> bool:
    return Player.objects.filter(player_id=player_id, erased_at__isnull=True).exists()


def player_identify(*, identity_token: str) -> Identity | None:
    """The player an identity token names, or None if invalid, expired or the player is unknown.

    The caller answers every None the same way, so PEP learns nothing about which it was.
    """
    identity = validator(settings.PLAYER_IDENTITY_VALIDATOR)(identity_token)
    if identity is None:
        return None
    if identity.expires_at is not None and identity.expires_at <= timezone.now():
        return None  # a plugged-in validator may not check expiry itself
    if not _player_known(identity.player_id):
        logger.info("player_identity_unknown_player")
        return None
    return identity
