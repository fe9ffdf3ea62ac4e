"""Builders for player events and player data: registration, login/logout, profile, tags, consents.

The profile's fields are the player_update spec's (pepbridge.pep.contract.bodies.PROFILE_FIELDS):
their attrs are players.models.Player's field names, their wire names PEP's. PEP's player schema
is unpublished (platform-api.md §7.2), so that spec is what changes when the swagger is in hand;
PROFILE_WIRE_NAMES below is read from it. A profile update sends only the fields given to it;
None or "" clears a field (null).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from events.messages.base import Errors, day, make_message, timestamp
from events.outbox import PepMessage
from pepbridge.pep import contract

_PATCH = contract.body_spec("player_update")
_RECORD = contract.body_spec("player_create")
_TAGS = contract.body_spec("player_tags")
_PREFERENCES = contract.body_spec("player_marketing_preferences")
_CHANNELS = _PREFERENCES.item("channels")
_VERIFICATION = contract.body_spec("player_verification")

# Our field name (players.models.Player) -> PEP profile property, read from the profile spec:
# players.profile and reconciliation read it from here.
PROFILE_WIRE_NAMES: dict[str, str] = {item.attr: item.name for item in _PATCH.fields}
_ATTRS_BY_WIRE = {wire: attr for attr, wire in PROFILE_WIRE_NAMES.items()}

# Our consent channel (players.models.ConsentChannel values) -> PEP channel property.
CHANNEL_WIRE_NAMES: dict[str, str] = {item.attr: item.name for item in _CHANNELS.fields}


def _profile_attr(name: str) -> str | None:
    """Accept our field name or, for callers that already hold PEP's, the wire name itself."""
    if name in PROFILE_WIRE_NAMES:
        return name
    return _ATTRS_BY_WIRE.get(name)


def _wire_value(errors: Errors, field: str, value: Any) -> Any:
    """Render one profile value: dates as YYYY-MM-DD, datetimes as UTC ms Z, blank as null."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return timestamp(errors, field, value)
    if isinstance(value, date):
        return day(errors, field, value)
    return value


def _profile_attrs(errors: Errors, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Profile values by attr, rendered; an unknown field is an error, not dropped."""
    attrs: dict[str, Any] = {}
    for name, value in changes.items():
        attr = _profile_attr(name)
        if attr is None:
            errors.add(name, "is not a profile field PEP knows")
            continue
        attrs[attr] = _wire_value(errors, _PATCH.wire(attr), value)
    return attrs


def profile_body(errors: Errors, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Translate profile values to PEP's properties; null (a cleared field) is kept."""
    return contract.wire_body(_PATCH, **_profile_attrs(errors, changes))


def _player_event(
    message_type: str, player_id: str, occurred_at: datetime, **extra: Any
) -> tuple[dict[str, Any], str]:
    """A player event's body (attrs `extra` between the player and the date) and its date."""
    spec = contract.body_spec(message_type)
    errors = Errors()
    when = timestamp(errors, spec.wire("date"), occurred_at)
    errors.raise_if_any(message_type)
    return contract.wire_body(spec, player_id=player_id, **extra, date=when), when


def build_player_registration(
    player_id: str, occurred_at: datetime, *, device: str = "unknown"
) -> PepMessage:
    """Build the registration event; a player registers once, so the dedup key is the player."""
    body, _ = _player_event(
        "player_registration", player_id, occurred_at, registration_device=device
    )
    return make_message(
        "player_registration",
        body,
        player_id=player_id,
        dedup_key=f"registration:{player_id}",
        occurred_at=occurred_at,
    )


def build_player_login(player_id: str, occurred_at: datetime) -> PepMessage:
    """Build a login event; the same login (player and millisecond) resent is one message."""
    return _session_event("player_login", "login", player_id, occurred_at)


def build_player_logout(player_id: str, occurred_at: datetime) -> PepMessage:
    """Build a logout event, de-duplicated like a login."""
    return _session_event("player_logout", "logout", player_id, occurred_at)


def _session_event(
    message_type: str, key: str, player_id: str, occurred_at: datetime
) -> PepMessage:
    body, when = _player_event(message_type, player_id, occurred_at)
    return make_message(
        message_type,
        body,
        player_id=player_id,
        dedup_key=f"{key}:{player_id}:{when}",
        occurred_at=occurred_at,
    )


def build_player_update(
    player_id: str, changes: Mapping[str, Any], occurred_at: datetime
) -> PepMessage | None:
    """Build a profile PATCH with only `changes`; None when nothing changed.

    No dedup key: the same field may rightly change to the same value twice (A → B → A).
    """
    if not changes:
        return None
    errors = Errors()
    body = profile_body(errors, changes)
    errors.raise_if_any("player_update")
    return make_message(
        "player_update",
        body,
        player_id=player_id,
        dedup_key=None,
        occurred_at=occurred_at,
        path_params={"playerId": player_id},
    )


def build_player_create(
    player_id: str, profile: Mapping[str, Any], occurred_at: datetime
) -> PepMessage:
    """Build the player-record create (fields without a value are left out)."""
    errors = Errors()
    fields = {k: v for k, v in _profile_attrs(errors, profile).items() if v is not None}
    errors.raise_if_any("player_create")
    return make_message(
        "player_create",
        contract.wire_body(_RECORD, player_id=player_id, **fields),
        player_id=player_id,
        dedup_key=f"player_create:{player_id}",
        occurred_at=occurred_at,
    )


def build_player_delete(player_id: str, occurred_at: datetime) -> PepMessage:
    """Build the player delete (erasure); no body, the player travels in the path."""
    return make_message(
        "player_delete",
        None,
        player_id=player_id,
        dedup_key=f"player_delete:{player_id}",
        occurred_at=occurred_at,
        path_params={"playerId": player_id},
    )


def build_player_tags(player_id: str, tags: Sequence[str], occurred_at: datetime) -> PepMessage:
    """Build a tags upsert with the player's tags (at least one: an upsert cannot remove all)."""
    return make_message(
        "player_tags",
        contract.wire_body(_TAGS, player_id=player_id, tags=list(tags)),
        player_id=player_id,
        dedup_key=None,
        occurred_at=occurred_at,
    )


def build_marketing_preferences(
    player_id: str, channels: Mapping[str, bool], occurred_at: datetime
) -> PepMessage:
    """Build a marketing-preference change: channel (ConsentChannel value) → opted in or not."""
    errors = Errors()
    known: dict[str, bool] = {}
    for name, granted in channels.items():
        if name not in CHANNEL_WIRE_NAMES:
            errors.add(f"{_PREFERENCES.wire('channels')}.{name}", "is not a known channel")
            continue
        known[name] = granted
    body = contract.wire_body(
        _PREFERENCES,
        player_id=player_id,
        channels=known,
        date=timestamp(errors, _PREFERENCES.wire("date"), occurred_at),
    )
    errors.raise_if_any("player_marketing_preferences")
    return make_message(
        "player_marketing_preferences",
        body,
        player_id=player_id,
        dedup_key=None,
        occurred_at=occurred_at,
    )


def build_verification(
    player_id: str, verification_type: str, status: str, occurred_at: datetime
) -> PepMessage:
    """Build a verification change (KYC, ACCOUNT_ACTIVATION, EMAIL, PHONE; any letter case)."""
    errors = Errors()
    kind, when = (
        verification_type.upper(),
        timestamp(errors, _VERIFICATION.wire("date"), occurred_at),
    )
    body = contract.wire_body(
        _VERIFICATION,
        player_id=player_id,
        verification_type=kind,
        verification_status=status.upper(),
        date=when,
    )
    errors.raise_if_any("player_verification")
    return make_message(
        "player_verification",
        body,
        player_id=player_id,
        dedup_key=f"verification:{player_id}:{kind}:{when}",
        occurred_at=occurred_at,
    )
