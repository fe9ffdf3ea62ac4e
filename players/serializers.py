"""The operator's wire format for players, shared by the ingestion API and the JSON Lines loader.

Names are camelCase like PEP's own profile fields, so an operator sees one vocabulary. These
serializers only translate and check single values; whether a change is allowed, and what goes
to PEP, is decided in `players.services`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rest_framework import serializers

from pepbridge.api.fields import StrictCharField, WireDateTimeField
from players import validators
from players.models import (
    AccountStatus,
    ConsentChannel,
    Gender,
    KycStatus,
    RegistrationDevice,
)

# Kept for importers; the rule itself is validators.validate_player_id (PlayerIdField).
PLAYER_ID_PATTERN = validators.PLAYER_ID_PATTERN
MAX_TAGS = 100


class PlayerIdField(StrictCharField):
    """A player id: 1 to 64 characters (or `max_length`) that are a safe URL path segment.

    Every API field that names a player uses this, so one validator decides what an id may be.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs["validators"] = [*kwargs.get("validators", ()), validators.validate_player_id]
        super().__init__(**kwargs)


class AwareDateTimeField(WireDateTimeField):
    """An ISO-8601 moment that must carry its offset: a naive time is ambiguous across zones."""

    default_error_messages = {
        "naive": "Include the time zone: end with Z or an offset like +01:00.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str) and not _has_offset(value):
            self.fail("naive")
        return super().to_internal_value(value)


def _has_offset(text: str) -> bool:
    time_part = text.partition("T")[2] or text.partition(" ")[2]
    return time_part.endswith(("Z", "z")) or "+" in time_part or "-" in time_part


class ConsentSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    granted = serializers.BooleanField()
    changedAt = AwareDateTimeField(source="changed_at", validators=[validators.validate_not_future])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Each consent is whole even in a PATCH (partial=True skips nested required fields)."""
        missing = [name for name, field in self.fields.items() if field.source not in attrs]
        if missing:
            raise serializers.ValidationError(
                {name: ["This field is required."] for name in missing}
            )
        return attrs


class PlayerSerializer(serializers.Serializer):
    """A player as the operator sends it. On update (partial=True) every field is optional."""

    playerId = PlayerIdField(source="player_id")
    brandId = serializers.CharField(source="brand_id", max_length=64, allow_blank=True)
    username = serializers.CharField(max_length=150, allow_blank=True)
    firstName = serializers.CharField(source="first_name", max_length=150, allow_blank=True)
    lastName = serializers.CharField(source="last_name", max_length=150, allow_blank=True)
    email = serializers.EmailField(max_length=254, allow_blank=True)
    phone = serializers.CharField(
        max_length=16, allow_blank=True, validators=[validators.validate_phone]
    )
    gender = serializers.ChoiceField(choices=Gender.choices, allow_blank=True)
    birthDate = serializers.DateField(
        source="birth_date", allow_null=True, validators=[validators.validate_birth_date]
    )
    country = serializers.CharField(
        max_length=2, allow_blank=True, validators=[validators.validate_country]
    )
    city = serializers.CharField(max_length=100, allow_blank=True)
    language = serializers.CharField(
        max_length=8, allow_blank=True, validators=[validators.validate_language]
    )
    currency = serializers.CharField(
        max_length=3, allow_blank=True, validators=[validators.validate_currency]
    )
    registrationDate = AwareDateTimeField(
        source="registration_date", allow_null=True, validators=[validators.validate_not_future]
    )
    registrationDevice = serializers.ChoiceField(
        source="registration_device", choices=RegistrationDevice.choices, allow_blank=True
    )
    accountStatus = serializers.ChoiceField(source="account_status", choices=AccountStatus.choices)
    kycStatus = serializers.ChoiceField(source="kyc_status", choices=KycStatus.choices)
    emailVerified = serializers.BooleanField(source="email_verified")
    phoneVerified = serializers.BooleanField(source="phone_verified")
    selfExcluded = serializers.BooleanField(source="self_excluded")
    selfExcludedUntil = AwareDateTimeField(source="self_excluded_until", allow_null=True)
    coolOffUntil = AwareDateTimeField(source="cool_off_until", allow_null=True)
    atRisk = serializers.BooleanField(source="at_risk")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=MAX_TAGS, allow_empty=True
    )
    marketingConsents = ConsentSerializer(source="consents", many=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only playerId is required on create; everything else may come later as an update.
        for name, field in self.fields.items():
            field.required = name == "playerId" and not self.partial

    def validate_tags(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_marketingConsents(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        channels = [item["channel"] for item in value]
        if len(channels) != len(set(channels)):
            raise serializers.ValidationError("Each channel may appear only once.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("self_excluded_until") and attrs.get("self_excluded") is False:
            raise serializers.ValidationError(
                {"selfExcludedUntil": ["Set only when selfExcluded is true."]}
            )
        return attrs


class ConsentOutputSerializer(serializers.Serializer):
    channel = serializers.CharField()
    granted = serializers.BooleanField()
    changedAt = serializers.DateTimeField(source="changed_at")


class PlayerOutputSerializer(PlayerSerializer):
    """A player as the bridge holds it, for GET. Erased players show blanks and `erasedAt`."""

    # Output adds changedAt to the input's consent (a different serializer of the same name).
    marketingConsents = ConsentOutputSerializer(  # type: ignore[assignment]
        source="consents.all", many=True
    )
    erasedAt = serializers.DateTimeField(source="erased_at", allow_null=True)
    updatedAt = serializers.DateTimeField(source="updated_at")


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"transactions.1.date": ["..."]}: one path per field."""
    if isinstance(errors, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in errors.items():
            name = prefix if key == "non_field_errors" and prefix else f"{prefix}{key}"
            out.update(flatten_errors(value, name + "." if name else ""))
        return out
    if isinstance(errors, list) and errors and not all(isinstance(e, str) for e in errors):
        out = {}
        for index, value in enumerate(errors):
            if value:
                out.update(flatten_errors(value, f"{prefix}{index}."))
        return out
    return {prefix.rstrip(".") or "event": [str(e) for e in errors]}
