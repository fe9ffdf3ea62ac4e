"""Each field rule of the operator's player format (shared by the API and the loader)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from players.serializers import PlayerSerializer, flatten_errors


def errors_for(data: dict[str, Any], *, partial: bool = False) -> dict[str, list[str]]:
    serializer = PlayerSerializer(data={"playerId": "p-1", **data}, partial=partial)
    serializer.is_valid()
    return flatten_errors(serializer.errors) if serializer.errors else {}


def test_it_accepts_a_complete_player():
    data = {
        "email": "anna@example.com",
        "phone": "+41791234567",
        "gender": "female",
        "birthDate": "1990-04-01",
        "country": "CH",
        "currency": "CHF",
        "language": "de-CH",
        "registrationDate": "2024-03-01T10:15:00+01:00",
        "registrationDevice": "desktop",
        "accountStatus": "active",
        "kycStatus": "pending",
        "selfExcluded": True,
        "selfExcludedUntil": "2030-01-01T00:00:00Z",
        "coolOffUntil": None,
        "atRisk": False,
        "tags": ["b", "a", "b"],
        "marketingConsents": [
            {"channel": "push", "granted": False, "changedAt": "2024-03-01T10:15:00Z"}
        ],
    }
    serializer = PlayerSerializer(data={"playerId": "p-1", **data})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["tags"] == ["a", "b"]
    assert serializer.validated_data["birth_date"] == date(1990, 4, 1)
    assert serializer.validated_data["consents"][0]["channel"] == "push"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "anna@"),
        ("phone", "0791234567"),
        ("phone", "+41 79 123 45 67"),
        ("phone", "+0791234567"),
        ("country", "ch"),
        ("country", "XX"),
        ("country", "CHE"),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("currency", "ABC"),
        ("language", "german"),
        ("gender", "m"),
        ("birthDate", "1990-13-01"),
        ("birthDate", "1850-01-01"),
        ("registrationDevice", "fridge"),
        ("accountStatus", "deleted"),
        ("kycStatus", "yes"),
        ("registrationDate", "2024-03-01T10:15:00"),
        ("registrationDate", "2999-01-01T00:00:00Z"),
        ("tags", ["x" * 65]),
        ("tags", [str(i) for i in range(101)]),
    ],
)
def test_it_names_the_field_that_breaks_a_rule(field, value):
    assert list(errors_for({field: value})) in ([field], [f"{field}.0"])


def test_it_refuses_a_birth_date_in_the_future():
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert list(errors_for({"birthDate": tomorrow})) == ["birthDate"]


def test_it_tells_how_to_fix_a_naive_time():
    [message] = errors_for({"registrationDate": "2024-03-01T10:15:00"})["registrationDate"]
    assert "time zone" in message


def test_it_tells_the_phone_format():
    [message] = errors_for({"phone": "079 123"})["phone"]
    assert "E.164" in message


@pytest.mark.parametrize("player_id", ["", "p 1", "a/b", "x" * 65, "q?x", "50%"])
def test_it_refuses_a_player_id_that_cannot_be_a_path_segment(player_id):
    serializer = PlayerSerializer(data={"playerId": player_id})
    assert not serializer.is_valid()
    assert "playerId" in serializer.errors


def test_it_requires_a_player_id_on_create_only():
    assert not PlayerSerializer(data={"city": "Bern"}).is_valid()
    assert PlayerSerializer(data={"city": "Bern"}, partial=True).is_valid()


def test_it_allows_an_end_of_self_exclusion_only_with_the_flag():
    errors = errors_for({"selfExcluded": False, "selfExcludedUntil": "2030-01-01T00:00:00Z"})
    assert list(errors) == ["selfExcludedUntil"]


def test_it_refuses_the_same_consent_channel_twice():
    consent = {"channel": "email", "granted": True, "changedAt": "2024-03-01T10:15:00Z"}
    assert list(errors_for({"marketingConsents": [consent, consent]})) == ["marketingConsents"]


def test_it_names_the_consent_item_and_field():
    consent = {"channel": "fax", "granted": True, "changedAt": "2024-03-01T10:15:00"}
    assert set(errors_for({"marketingConsents": [consent]})) == {
        "marketingConsents.0.channel",
        "marketingConsents.0.changedAt",
    }


def test_it_allows_blanks_to_clear_fields_on_update():
    assert errors_for({"email": "", "phone": "", "birthDate": None}, partial=True) == {}
