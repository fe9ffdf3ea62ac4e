"""Which Player fields PEP's profile holds, their values on the wire, and which are personal data.

PEP's player schema is not published (platform-api.md §7.2); the wire names live only in the
profile spec, pepbridge.pep.contract.bodies.PROFILE_FIELDS (correct them there once the swagger is
in hand), which events.messages.players.PROFILE_WIRE_NAMES is read from.
"""

from __future__ import annotations

from typing import Any

from events.messages.players import PROFILE_WIRE_NAMES
from players.models import Player

# PEP profile wire name -> model field: the inverse of the builders' table (reconciliation asks
# for missing fields by wire name).
WIRE_TO_FIELD: dict[str, str] = {wire: name for name, wire in PROFILE_WIRE_NAMES.items()}

# Personal data, blanked on erasure. What stays (player id, country, currency, brand,
# registration date, status, responsible-gambling flags, KYC state) is what regulation asks the
# operator to keep and is not enough to identify the person without the operator's own records.
PERSONAL_FIELDS: dict[str, Any] = {
    "username": "",
    "first_name": "",
    "last_name": "",
    "email": "",
    "phone": "",
    "gender": "",
    "birth_date": None,
    "city": "",
    "language": "",
    "tags": [],
}

# Fields whose change is its own event, not (only) a profile update.
VERIFICATION_FIELDS = ("kyc_status", "email_verified", "phone_verified")


def wire_value(player: Player, field_name: str) -> Any:
    """The value PEP gets for a field: None for "no value" (blank text, unset date)."""
    value = getattr(player, field_name)
    return None if value == "" else value


def profile_attrs(player: Player, field_names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Model field (the profile spec's attr) -> value, None where the bridge holds no value."""
    return {name: wire_value(player, name) for name in field_names}


def profile_values(player: Player, field_names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Wire name -> value for the given model fields (None where the bridge holds no value)."""
    return {PROFILE_WIRE_NAMES[k]: v for k, v in profile_attrs(player, field_names).items()}


def held_profile(player: Player) -> dict[str, Any]:
    """Every profile field the bridge holds a value for, by attr (the migration record)."""
    values = profile_attrs(player, tuple(PROFILE_WIRE_NAMES))
    return {name: value for name, value in values.items() if value is not None}


def full_profile(player: Player) -> dict[str, Any]:
    """Every profile field the bridge holds a value for, by wire name (registration)."""
    return {PROFILE_WIRE_NAMES[name]: value for name, value in held_profile(player).items()}
