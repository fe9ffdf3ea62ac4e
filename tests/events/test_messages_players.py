"""The player builders produce exactly the contract's wire format, with only the fields given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from events.messages import (
    MessageRejected,
    build_marketing_preferences,
    build_player_create,
    build_player_delete,
    build_player_login,
    build_player_logout,
    build_player_registration,
    build_player_tags,
    build_player_update,
    build_verification,
)
from pepbridge.pep import wire

AT = datetime(2024, 5, 1, 14, 34, 56, 789_999, tzinfo=timezone(timedelta(hours=2)))
AT_WIRE = "2024-05-01T12:34:56.789Z"


def sent(message) -> dict:
    return wire.loads(wire.dumps(message.body))


def test_it_builds_the_registration_event() -> None:
    message = build_player_registration("p-1", AT, device="mobile")

    assert (message.method, message.path) == ("POST", "/rx-api/players-data/v1/registration")
    assert (message.player_id, message.dedup_key) == ("p-1", "registration:p-1")
    assert message.occurred_at == AT
    assert wire.dumps(message.body) == (
        b'{"date":"2024-05-01T12:34:56.789Z","playerId":"p-1","registrationDevice":"mobile"}'
    )


@pytest.mark.parametrize(
    ("build", "path", "kind"),
    [
        (build_player_login, "/rx-api/players-data/v1/login", "login"),
        (build_player_logout, "/rx-api/players-data/v1/logout", "logout"),
    ],
)
def test_it_builds_login_and_logout_events(build, path, kind) -> None:
    message = build("p-1", AT)

    assert (message.method, message.path) == ("POST", path)
    assert message.dedup_key == f"{kind}:p-1:{AT_WIRE}"
    assert sent(message) == {"playerId": "p-1", "date": AT_WIRE}


def test_it_rejects_a_naive_login_time() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_player_login("p-1", datetime(2024, 5, 1, 12, 0))  # noqa: DTZ001

    assert caught.value.field_errors == {"date": ["must be timezone-aware"]}
    assert caught.value.message_type == "player_login"


def test_it_sends_only_the_changed_profile_fields_under_their_wire_names() -> None:
    changes = {"first_name": "Ana", "birth_date": date(1990, 2, 28), "country": "CH"}

    message = build_player_update("p/1", changes, AT)

    assert message.method == "PATCH"
    assert message.path == "/api/players-data/v1/players/p%2F1"
    assert (message.player_id, message.dedup_key) == ("p/1", None)
    assert wire.dumps(message.body) == (
        b'{"birthDate":"1990-02-28","country":"CH","firstName":"Ana"}'
    )


def test_it_clears_a_profile_field_with_null() -> None:
    message = build_player_update("p-1", {"city": "", "last_name": None}, AT)

    assert sent(message) == {"city": None, "lastName": None}


def test_it_renders_profile_timestamps_in_utc() -> None:
    changes = {"registration_date": AT, "self_excluded": True}

    assert sent(build_player_update("p-1", changes, AT)) == {
        "registrationDate": AT_WIRE,
        "selfExcluded": True,
    }


def test_it_accepts_wire_names_for_profile_fields() -> None:
    assert sent(build_player_update("p-1", {"firstName": "Ana"}, AT)) == {"firstName": "Ana"}


def test_it_builds_nothing_when_no_profile_field_changed() -> None:
    assert build_player_update("p-1", {}, AT) is None


def test_it_rejects_an_unknown_profile_field() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_player_update("p-1", {"shoe_size": 44}, AT)

    assert caught.value.field_errors == {"shoe_size": ["is not a profile field PEP knows"]}


def test_it_rejects_a_profile_value_the_contract_refuses() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_player_update("p-1", {"country": "Switzerland"}, AT)

    assert caught.value.field_errors == {"country": ["must be 2 upper-case letters (ISO 3166-1)"]}


def test_it_builds_a_player_create_without_empty_fields() -> None:
    profile = {"username": "ana", "email": "ana@example.com", "city": "", "phone": None}

    message = build_player_create("p-1", profile, AT)

    assert (message.method, message.path) == ("POST", "/api/players-data/v1/players")
    assert message.dedup_key == "player_create:p-1"
    assert sent(message) == {"playerId": "p-1", "username": "ana", "email": "ana@example.com"}


def test_it_builds_a_player_delete_without_a_body() -> None:
    message = build_player_delete("p-1", AT)

    assert (message.method, message.path) == ("DELETE", "/api/players-data/v1/players/p-1")
    assert message.body is None
    assert (message.player_id, message.dedup_key) == ("p-1", "player_delete:p-1")


def test_it_uses_the_configured_path_for_player_delete(settings) -> None:
    settings.PEP_PATHS = {"player_delete": "/api/players-data/v1/gdpr/{playerId}"}

    assert build_player_delete("p-1", AT).path == "/api/players-data/v1/gdpr/p-1"


def test_it_builds_a_tags_upsert() -> None:
    message = build_player_tags("p-1", ["vip", "high-roller"], AT)

    assert (message.method, message.path) == ("PATCH", "/rx-api/players-data/v1/tags/upsert")
    assert sent(message) == {"playerId": "p-1", "tags": ["vip", "high-roller"]}


def test_it_rejects_an_empty_tags_upsert() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_player_tags("p-1", [], AT)

    assert caught.value.field_errors == {"tags": ["must have at least 1 item(s)"]}


def test_it_builds_a_marketing_preference_change() -> None:
    message = build_marketing_preferences("p-1", {"email": True, "on_site": False}, AT)

    assert message.method == "POST"
    assert message.path == "/rx-api/players-data/v1/marketing-preferences"
    assert sent(message) == {
        "playerId": "p-1",
        "channels": {"email": True, "onSite": False},
        "date": AT_WIRE,
    }


def test_it_uses_the_configured_path_for_marketing_preferences(settings) -> None:
    settings.PEP_PATHS = {"player_marketing_preferences": "/rx-api/players-data/v1/opt-in"}

    message = build_marketing_preferences("p-1", {"sms": True}, AT)

    assert message.path == "/rx-api/players-data/v1/opt-in"


def test_it_rejects_an_unknown_channel_and_no_channel() -> None:
    with pytest.raises(MessageRejected) as unknown:
        build_marketing_preferences("p-1", {"pigeon": True}, AT)
    with pytest.raises(MessageRejected) as empty:
        build_marketing_preferences("p-1", {}, AT)

    assert unknown.value.field_errors == {"channels.pigeon": ["is not a known channel"]}
    assert empty.value.field_errors == {"channels": ["must name at least one channel"]}


def test_it_builds_a_verification_change() -> None:
    message = build_verification("p-1", "kyc", "verified", AT)

    assert (message.method, message.path) == ("POST", "/rx-api/players-data/v1/verification")
    assert message.dedup_key == f"verification:p-1:KYC:{AT_WIRE}"
    assert sent(message) == {
        "playerId": "p-1",
        "verificationType": "KYC",
        "verificationStatus": "VERIFIED",
        "date": AT_WIRE,
    }


def test_it_rejects_an_unknown_verification_type() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_verification("p-1", "retina", "verified", datetime(2024, 1, 1, tzinfo=UTC))

    assert caught.value.field_errors == {
        "verificationType": ["must be one of KYC, ACCOUNT_ACTIVATION, EMAIL, PHONE"]
    }


def test_it_rejects_a_path_message_without_its_player_id() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_player_delete("", AT)

    assert caught.value.field_errors == {"playerId": ["is required"]}
