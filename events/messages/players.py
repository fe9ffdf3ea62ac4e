"""Builders for player events and player data: registration, login/logout, profile, tags, consents.

The profile's wire names live in PROFILE_WIRE_NAMES (our field name → PEP property); PEP's player
schema is unpublished (platform-api.md §7.2), so that table is what changes when the swagger is in
hand. A profile update sends only the fields given to it; None or "" clears a field (null).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from events.messages.base import Errors, day, make_message, timestamp
from events.outbox import PepMessage

# Our field name (players.models.Player) -> PEP profile property. The one table of profile wire
# names: players.profile and reconciliation read it from here.
PROFILE_WIRE_NAMES: dict[str, str] = {
    "username": "username",
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "gender": "gender",
    "birth_date": "birthDate",
    "country": "country",
    "city": "city",
    "language": "language",
    "currency": "currency",
    "brand_id": "brandId",
    "registration_date": "registrationDate",
    "registration_device": "registrationDevice",
    "account_status": "accountStatus",
    "self_excluded": "selfExcluded",
    "self_excluded_until": "selfExcludedUntil",
    "cool_off_until": "coolOffUntil",
    "at_risk": "atRisk",
}
_WIRE_NAMES = frozenset(PROFILE_WIRE_NAMES.values())

# Our consent channel -> PEP channel property (players.models.ConsentChannel values).
CHANNEL_WIRE_NAMES: dict[str, str] = {
    "email": "email",
    "sms": "sms",
    "push": "push",
    "phone": "phone",
    "on_site": "onSite",
}


def _wire_name(name: str) -> str | None:
    """Accept our field name or, for callers that already hold PEP's, the wire name itself."""
    if name in PROFILE_WIRE_NAMES:
        return PROFILE_WIRE_NAMES[name]
    return name if name in _WIRE_NAMES else None


def _wire_value(errors: Errors, field: str, value: Any) -> Any:
    """Render one profile value: dates as YYYY-MM-DD, datetimes as UTC ms Z, blank as null."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return timestamp(errors, field, value)
    if isinstance(value, date):
        return day(errors, field, value)
    return value


def profile_body(errors: Errors, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Translate profile values to PEP's properties; an unknown field is an error, not dropped."""
    body: dict[str, Any] = {}
    for name, value in changes.items():
        wire = _wire_name(name)
        if wire is None:
            errors.add(name, "is not a profile field PEP knows")
            continue
        body[wire] = _wire_value(errors, wire, value)
    return body


def _player_event(message_type: str, player_id: str, occurred_at: datetime, **extra: Any) -> Any:
    errors = Errors()
    body = {"playerId": player_id, **extra, "date": timestamp(errors, "date", occurred_at)}
    errors.raise_if_any(message_type)
    return body


def build_player_registration(
    player_id: str, occurred_at: datetime, *, device: str = "unknown"
) -> PepMessage:
    """Build the registration event; a player registers once, so the dedup key is the player."""
    body = _player_event("player_registration", player_id, occurred_at, registrationDevice=device)
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
    body = _player_event(message_type, player_id, occurred_at)
    return make_message(
        message_type,
        body,
        player_id=player_id,
        dedup_key=f"{key}:{player_id}:{body['date']}",
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
    fields = {k: v for k, v in profile_body(errors, profile).items() if v is not None}
    errors.raise_if_any("player_create")
    return make_message(
        "player_create",
        {"playerId": player_id, **fields},
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
        {"playerId": player_id, "tags": list(tags)},
        player_id=player_id,
        dedup_key=None,
        occurred_at=occurred_at,
    )


def build_marketing_preferences(
    player_id: str, channels: Mapping[str, bool], occurred_at: datetime
) -> PepMessage:
    """Build a marketing-preference change: channel (ConsentChannel value) → opted in or not."""
    errors = Errors()
    wire_channels: dict[str, bool] = {}
    for name, granted in channels.items():
        if name not in CHANNEL_WIRE_NAMES:
            errors.add(f"channels.{name}", "is not a known channel")
            continue
        wire_channels[CHANNEL_WIRE_NAMES[name]] = granted
    body = {
        "playerId": player_id,
        "channels": wire_channels,
        "date": timestamp(errors, "date", occurred_at),
    }
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
    body = {
        "playerId": player_id,
        "verificationType": verification_type.upper(),
        "verificationStatus": status.upper(),
        "date": timestamp(errors, "date", occurred_at),
    }
    errors.raise_if_any("player_verification")
    return make_message(
        "player_verification",
        body,
        player_id=player_id,
        dedup_key=f"verification:{player_id}:{body['verificationType']}:{body['date']}",
        occurred_at=occurred_at,
    )
