"""Which PEP messages a player change causes, built with events.messages' builders.

Kept apart from services.py so that the mapping "this change -> these messages" reads in one
place: registration, profile update with only the changed fields, verification, consents, tags.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from events.messages.players import (
    PROFILE_WIRE_NAMES,
    build_marketing_preferences,
    build_player_delete,
    build_player_registration,
    build_player_tags,
    build_player_update,
    build_verification,
)
from events.outbox import PepMessage
from players import profile
from players.models import KycStatus, Player

logger = logging.getLogger("players.messages")

_KYC = {
    KycStatus.PENDING: "PENDING",
    KycStatus.VERIFIED: "VERIFIED",
    KycStatus.REJECTED: "REJECTED",
}


def registration(player: Player) -> Iterator[PepMessage | None]:
    """The registration event, then everything known about the player beyond it."""
    when = player.registration_date or player.created_at
    device = player.registration_device or "unknown"
    yield build_player_registration(player.player_id, when, device=device)
    values = {k: v for k, v in profile.full_profile(player).items() if k != "registrationDevice"}
    yield build_player_update(player.player_id, values, when)
    yield from _verification(player, list(profile.VERIFICATION_FIELDS), when, initial=True)
    if player.tags:
        yield build_player_tags(player.player_id, player.tags, when)
    yield _consents(player)


def changes(
    player: Player, changed_fields: Sequence[str], consents_changed: bool, when: datetime
) -> Iterator[PepMessage | None]:
    """A profile update with only the changed profile fields, plus the events of the rest."""
    names = [name for name in changed_fields if name in PROFILE_WIRE_NAMES]
    yield build_player_update(player.player_id, profile.profile_values(player, names), when)
    yield from _verification(player, changed_fields, when, initial=False)
    # PEP's tag endpoint is an upsert of at least one tag: removing every tag cannot be said.
    if "tags" in changed_fields and player.tags:
        yield build_player_tags(player.player_id, player.tags, when)
    if consents_changed:
        yield _consents(player)


def _verification(
    player: Player, fields: Sequence[str], when: datetime, *, initial: bool
) -> Iterator[PepMessage]:
    if "kyc_status" in fields and player.kyc_status in _KYC:
        yield build_verification(player.player_id, "KYC", _KYC[player.kyc_status], when)
    for name, kind in (("email_verified", "EMAIL"), ("phone_verified", "PHONE")):
        value = getattr(player, name)
        if name in fields and (value or not initial):
            yield build_verification(
                player.player_id, kind, "VERIFIED" if value else "PENDING", when
            )


def _consents(player: Player) -> PepMessage | None:
    """Every channel's current state, dated by the latest change the player made.

    PEP gets the whole picture rather than a delta it could apply to a state it never had.
    """
    consents = list(player.consents.all())
    if not consents:
        return None
    channels = {c.channel: c.granted for c in consents}
    changed_at = max(c.changed_at for c in consents)
    return build_marketing_preferences(player.player_id, channels, changed_at)


def delete(player: Player, when: datetime) -> PepMessage:
    return build_player_delete(player.player_id, when)


def profile_update(player: Player, values: Mapping[str, Any], when: datetime) -> PepMessage:
    message = build_player_update(player.player_id, values, when)
    if message is None:
        raise ValueError("a profile update needs at least one field")
    return message


def log_resend(player: Player, wire_fields: list[str], cause: str) -> None:
    logger.info(
        "player fields re-sent",
        extra={"player": player.player_id, "fields": ",".join(wire_fields), "cause": cause},
    )
