"""The declarative Platform API contract: paths, overrides and payload validation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pytest_django.fixtures import Settings

from pepbridge.pep import contract, wire
from pepbridge.sandbox.examples import PATH_PARAMS, example

BODY_TYPES = [key for key in contract.MESSAGE_TYPES if contract.endpoint(key).body is not None]


def _first_required(message_type: str) -> str:
    spec = contract.endpoint(message_type).body
    assert spec is not None
    return next(item.name for item in spec.fields if item.required)


def _field_names(message_type: str) -> set[str]:
    spec = contract.endpoint(message_type).body
    assert spec is not None
    return {item.name for item in spec.fields}


@pytest.mark.parametrize("message_type", contract.MESSAGE_TYPES)
def test_it_accepts_the_example_of_each_endpoint(message_type: str) -> None:
    assert contract.validate(message_type, example(message_type)) == {}


@pytest.mark.parametrize("message_type", contract.MESSAGE_TYPES)
def test_it_accepts_each_example_after_a_wire_round_trip(message_type: str) -> None:
    payload = example(message_type)
    if payload is None:
        pytest.skip("no body")
    assert contract.validate(message_type, wire.loads(wire.dumps(payload))) == {}


@pytest.mark.parametrize("message_type", [k for k in BODY_TYPES if k != "player_update"])
def test_it_names_a_missing_required_field(message_type: str) -> None:
    payload = example(message_type)
    name = _first_required(message_type)
    del payload[name]
    assert "is required" in contract.validate(message_type, payload)[name]


def test_it_names_a_missing_field_inside_an_array_item() -> None:
    payload = example("game_round")
    del payload["gameTransactionRound"][1]["gameSessionId"]
    errors = contract.validate("game_round", payload)
    assert errors == {"gameTransactionRound.1.gameSessionId": ["is required"]}


@pytest.mark.parametrize(
    ("message_type", "name", "value", "message"),
    [
        ("money_transaction", "amount", "100", "must be a number"),
        ("money_transaction", "amount", True, "must be a number"),
        ("money_transaction", "amount", Decimal("NaN"), "must be a finite number"),
        ("money_transaction", "playerId", 17, "must be a string"),
        ("player_tags", "tags", "vip", "must be an array"),
        ("player_marketing_preferences", "channels", ["email"], "must be an object"),
        ("crm_trigger", "keepCounter", "yes", "must be a boolean"),
        ("player_login", "playerId", "  ", "must not be blank"),
    ],
)
def test_it_rejects_a_wrong_type(message_type: str, name: str, value: object, message: str) -> None:
    payload = example(message_type)
    payload[name] = value
    assert contract.validate(message_type, payload) == {name: [message]}


def test_it_rejects_a_non_object_body() -> None:
    assert contract.validate("player_login", [1, 2]) == {"": ["must be an object"]}


@pytest.mark.parametrize(
    ("message_type", "name"),
    [
        ("money_transaction", "transactionType"),
        ("money_transaction", "transactionStatus"),
        ("sport_transaction", "transactionStatus"),
        ("player_verification", "verificationType"),
        ("bonus_offer_upsert", "status"),
    ],
)
def test_it_rejects_a_value_outside_the_enum(message_type: str, name: str) -> None:
    payload = example(message_type)
    payload[name] = "REFUND"
    [message] = contract.validate(message_type, payload)[name]
    assert message.startswith("must be one of ")


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:34:56Z",
        "2024-05-01T12:34:56.789+02:00",
        "2024-05-01 12:34:56.789Z",
        "2024-13-01T12:34:56.789Z",
        "2024-05-01",
        1714566896,
    ],
)
def test_it_rejects_a_timestamp_not_in_utc_millisecond_form(value: object) -> None:
    payload = example("player_login")
    payload["date"] = value
    assert list(contract.validate("player_login", payload)) == ["date"]


def test_it_rejects_a_bad_date_in_a_nested_record() -> None:
    payload = example("players_migration_batch")
    payload["players"][0]["birthDate"] = "1990-02-30"
    assert contract.validate("players_migration_batch", payload) == {
        "players.0.birthDate": ["must be a date like 2024-05-01"]
    }


def test_it_requires_a_positive_real_or_bonus_amount_in_a_round() -> None:
    payload = example("game_round")
    payload["gameTransactionRound"][1]["realMoneyAmount"] = 0
    errors = contract.validate("game_round", payload)
    assert set(errors) == {
        "gameTransactionRound.1.realMoneyAmount",
        "gameTransactionRound.1.bonusMoneyAmount",
    }


def test_it_accepts_a_round_paid_in_bonus_money_only() -> None:
    payload = example("game_round")
    row = payload["gameTransactionRound"][0]
    row["realMoneyAmount"], row["bonusMoneyAmount"] = 0, Decimal("5")
    assert contract.validate("game_round", payload) == {}


def test_it_rejects_a_round_mixing_players() -> None:
    payload = example("game_round")
    payload["gameTransactionRound"][1]["playerId"] = "p-2"
    assert list(contract.validate("game_round", payload)) == ["gameTransactionRound"]


def test_it_rejects_an_empty_round() -> None:
    errors = contract.validate("game_round", {"gameTransactionRound": []})
    assert errors == {"gameTransactionRound": ["must have at least 1 item(s)"]}


@pytest.mark.parametrize("kind", ["SETTLEMENT", "CASHOUT"])
def test_it_requires_the_reference_on_a_settlement_or_cashout(kind: str) -> None:
    payload = example("sport_transaction")
    payload["transactionType"] = kind
    del payload["transactionIdReference"]
    assert list(contract.validate("sport_transaction", payload)) == ["transactionIdReference"]


def test_it_accepts_a_sport_bet_without_reference_but_not_with_a_zero_stake() -> None:
    payload = example("sport_transaction")
    payload["transactionType"] = "BET"
    del payload["transactionIdReference"]
    assert contract.validate("sport_transaction", payload) == {}
    payload["realMoneyAmount"] = 0
    assert "realMoneyAmount" in contract.validate("sport_transaction", payload)


def test_it_accepts_a_lost_sport_settlement_paying_zero() -> None:
    payload = example("sport_transaction")
    payload["realMoneyAmount"] = 0
    assert contract.validate("sport_transaction", payload) == {}


@pytest.mark.parametrize(
    ("message_type", "name"),
    [
        ("money_transaction", "amount"),
        ("bonus_granted", "amount"),
        ("sport_transaction", "realMoneyAmount"),
    ],
)
def test_it_rejects_a_negative_amount(message_type: str, name: str) -> None:
    payload = example(message_type)
    payload[name] = Decimal("-0.01")
    assert contract.validate(message_type, payload)[name] == ["must be at least 0"]


def test_it_rejects_a_zero_exchange_rate() -> None:
    payload = example("money_transaction")
    payload["exchangeRate"] = 0
    assert contract.validate("money_transaction", payload) == {
        "exchangeRate": ["must be greater than 0"]
    }


def test_it_accepts_a_negative_balance() -> None:
    payload = example("money_transaction")
    payload["realMoneyBalance"] = Decimal("-5")
    assert contract.validate("money_transaction", payload) == {}


@pytest.mark.parametrize("value", ["eur", "EURO", "E1R", ""])
def test_it_rejects_a_currency_that_is_not_three_upper_case_letters(value: str) -> None:
    payload = example("balance_update")
    payload["currency"] = value
    assert contract.validate("balance_update", payload) == {
        "currency": ["must be 3 upper-case letters (ISO 4217)"]
    }


def test_it_rejects_an_unknown_property_in_a_closed_body() -> None:
    payload = example("money_transaction")
    payload["realMoneyAmmount"] = 1
    assert contract.validate("money_transaction", payload) == {
        "realMoneyAmmount": ["is not a known property"]
    }


def test_it_lets_unknown_player_properties_through_but_checks_known_ones() -> None:
    payload = {"favouriteTeam": "Betis", "country": "Spain"}
    assert contract.validate("player_update", payload) == {
        "country": ["must be 2 upper-case letters (ISO 3166-1)"]
    }


def test_it_refuses_null_except_on_profile_fields() -> None:
    assert contract.validate("player_update", {"email": None}) == {}
    payload = example("money_transaction")
    payload["paymentMethod"] = None
    assert list(contract.validate("money_transaction", payload)) == ["paymentMethod"]


def test_it_requires_a_player_update_to_change_something() -> None:
    assert contract.validate("player_update", {}) == {"": ["must contain at least one property"]}


def test_it_requires_a_trigger_for_a_player_or_an_external_person() -> None:
    payload = example("crm_trigger")
    del payload["playerId"]
    assert list(contract.validate("crm_trigger", payload)) == ["playerId"]
    payload["external"] = {"email": "someone@example.com"}
    assert contract.validate("crm_trigger", payload) == {}


def test_it_rejects_a_bad_trigger_delay_and_payload_type() -> None:
    payload = example("crm_trigger")
    payload["delay"] = {"duration": "5 minutes"}
    payload["payload"][0]["type"] = "json"
    assert set(contract.validate("crm_trigger", payload)) == {
        "delay.duration",
        "payload.0.type",
    }


def test_it_requires_a_marketing_channel() -> None:
    payload = example("player_marketing_preferences")
    payload["channels"] = {}
    assert list(contract.validate("player_marketing_preferences", payload)) == ["channels"]


def test_it_checks_scalar_array_items() -> None:
    payload = example("player_tags")
    payload["tags"] = ["vip", 3]
    assert contract.validate("player_tags", payload) == {"tags.1": ["must be a string"]}


def test_it_refuses_a_body_on_a_delete() -> None:
    assert contract.validate("bonus_offer_delete", {"x": 1}) == {
        "": ["this endpoint takes no body"]
    }


def test_it_raises_key_error_for_an_unknown_message_type() -> None:
    with pytest.raises(KeyError):
        contract.endpoint("jackpot_won")
    with pytest.raises(KeyError):
        contract.validate("jackpot_won", {})


def test_it_describes_each_endpoint_with_method_path_and_status() -> None:
    game = contract.endpoint("game_round")
    assert (game.method, game.path, game.success_status) == (
        "POST",
        "/rx-api/transactions/v1/game-transaction-round",
        202,
    )
    assert contract.endpoint("bonus_offer_delete").success_status == 204
    migration = contract.endpoint("players_migration_batch")
    assert (migration.success_status, migration.gzip) == (200, True)
    assert contract.endpoint("token").auth is False


def test_it_fills_and_quotes_path_parameters() -> None:
    path = contract.path_for("player_update", playerId="a/b c?")
    assert path == "/api/players-data/v1/players/a%2Fb%20c%3F"


def test_it_refuses_a_missing_path_parameter() -> None:
    with pytest.raises(ValueError, match="bonusOfferId"):
        contract.path_for("bonus_offer_delete")


@pytest.mark.parametrize("message_type", contract.MESSAGE_TYPES)
def test_it_resolves_every_endpoint_from_its_own_path(message_type: str) -> None:
    item = contract.endpoint(message_type)
    params = PATH_PARAMS.get(message_type, {})
    found = contract.resolve(item.method, contract.path_for(message_type, **params) + "?x=1")
    assert found is not None
    assert (found[0].key, found[1]) == (message_type, params)


def test_it_unquotes_resolved_parameters_and_misses_unknown_paths() -> None:
    found = contract.resolve("patch", "/api/players-data/v1/players/a%2Fb")
    assert found is not None and found[1] == {"playerId": "a/b"}
    assert contract.resolve("GET", "/rx-api/transactions/v1/money-transaction") is None
    assert contract.resolve("POST", "/rx-api/transactions/v1/nope") is None


def test_it_takes_unpublished_paths_from_settings(settings: Settings) -> None:
    settings.PEP_PATHS = {"player_delete": "/api/v2/players/{playerId}/erase"}
    assert contract.path_for("player_delete", playerId="p 1") == "/api/v2/players/p%201/erase"
    found = contract.resolve("DELETE", "/api/v2/players/p-1/erase")
    assert found is not None and found[0].key == "player_delete"
    assert contract.resolve("DELETE", "/api/players-data/v1/players/p-1") is None


def test_it_refuses_an_override_without_a_leading_slash(settings: Settings) -> None:
    settings.PEP_PATHS = {"crm_trigger": "rx-api/trigger"}
    with pytest.raises(ValueError, match="PEP_PATH_CRM_TRIGGER"):
        contract.endpoint("crm_trigger")


def test_it_caps_a_migration_batch_at_the_documented_chunk_size() -> None:
    players = [{"playerId": f"p-{n}"} for n in range(contract.MIGRATION_BATCH_MAX + 1)]
    errors = contract.validate("players_migration_batch", {"players": players})
    assert errors == {"players": ["must have at most 20000 items"]}
