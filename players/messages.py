"""Which PEP messages a player change causes, built with events.messages' builders.

Kept apart from services.py so that the mapping "this change -> these messages" reads in one
place: registration, profile update with only the changed fields, verification, consents, tags.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
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
from pepbridge.pep import contract
from players import profile
from players.models import KycStatus, Player

logger = logging.getLogger("players.messages")
_VERIFICATION = contract.body_spec("player_verification")

_KYC: dict[str, str] = {
    KycStatus.PENDING: "PENDING",
    KycStatus.VERIFIED: "VERIFIED",
    KycStatus.REJECTED: "REJECTED",
}


def registration(player: Player) -> Iterator[PepMessage | None]:
    """The registration event, then everything known about the player beyond it."""
    when = player.registration_date or player.created_at
    device = player.registration_device or "unknown"
    yield build_player_registration(player.player_id, when, device=device)
    device_name = PROFILE_WIRE_NAMES["registration_device"]  # sent in the registration event
    values = {k: v for k, v in profile.full_profile(player).items() if k != device_name}
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


def after_migration(player: Player, when: datetime, *, run_id: int) -> Iterator[PepMessage]:
    """What the bulk migration body has no place for: verification state, tags and consents.

    PEP's batch record schema is unpublished (platform-api.md §7.3; our contract checks it as the
    profile record), so these go as the messages a registration sends, once PEP has accepted the
    player's chunk. Each is keyed by run, player and kind, so one run never queues one twice.
    """
    built = [
        *_verification(player, profile.VERIFICATION_FIELDS, when, initial=True),
        build_player_tags(player.player_id, player.tags, when) if player.tags else None,
        _consents(player),
    ]
    for message in built:
        if message is not None:
            yield _keyed(message, f"migration:{run_id}:{player.player_id}:{_kind(message)}")


def _kind(message: PepMessage) -> str:
    if message.message_type == "player_verification":
        kind = message.body[_VERIFICATION.wire("verification_type")]
        return f"{message.message_type}:{kind}"
    return message.message_type


def _keyed(message: PepMessage, dedup_key: str) -> PepMessage:
    """The same request under another dedup key, keeping the bytes already checked and encoded."""
    keyed = replace(message, dedup_key=dedup_key)
    return keyed if message.encoded_body is None else keyed.with_encoded_body(message.encoded_body)


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
