"""The transactional builders produce exactly the contract's wire format and enforce its rules."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from events.messages import (
    BalanceUpdateInput,
    BonusGrantedInput,
    GameRoundInput,
    GameTransaction,
    MessageRejected,
    MoneyTransactionInput,
    SportSelection,
    SportTransactionInput,
    build_balance_update,
    build_bonus_granted,
    build_game_round,
    build_money_transaction,
    build_sport_transaction,
)
from pepbridge.pep import contract, wire

CEST = timezone(timedelta(hours=2))
AT = datetime(2024, 5, 1, 14, 34, 56, 789_123, tzinfo=CEST)  # 12:34:56.789 UTC
AT_WIRE = "2024-05-01T12:34:56.789Z"
LATER = datetime(2024, 5, 1, 12, 35, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _instance_currency(settings):
    settings.PEP_INSTANCE_CURRENCY = "EUR"
    settings.PEP_SEND_NON_APPROVED_MONEY = False


def sent(message) -> dict:
    """The JSON PEP receives, parsed back (Decimal numbers)."""
    return wire.loads(wire.dumps(message.body))


def _bet(**changes) -> GameTransaction:
    base = GameTransaction(
        transaction_id="tx-bet",
        transaction_type="BET",
        real_amount=Decimal("0.10"),
        bonus_amount=Decimal("0.20"),
        real_balance=Decimal("99.90"),
        bonus_balance=Decimal("4.80"),
        occurred_at=AT,
    )
    return replace(base, **changes)


def _win(**changes) -> GameTransaction:
    base = GameTransaction(
        transaction_id="tx-win",
        transaction_type="WIN",
        real_amount=Decimal("1.30"),
        bonus_amount=Decimal(0),
        real_balance=Decimal("101.20"),
        bonus_balance=Decimal("4.80"),
        occurred_at=LATER,
        bet_amount=Decimal("0.30"),
    )
    return replace(base, **changes)


def _round(*transactions: GameTransaction, **changes) -> GameRoundInput:
    base = GameRoundInput(
        player_id="p-1",
        round_id="r-1",
        currency="EUR",
        game_id="g-7",
        game_name="Book of Dead",
        game_category_id="slots",
        game_category_name="Slots",
        game_provider_id="play-n-go",
        game_provider_name="Play'n GO",
        transactions=transactions or (_bet(), _win()),
    )
    return replace(base, **changes)


def test_it_sends_bet_and_win_of_a_round_in_one_request() -> None:
    message = build_game_round(_round(game_session_id="s-9", player_ip="203.0.113.5"))

    assert message.message_type == "game_round"
    assert message.method == "POST"
    assert message.path == "/rx-api/transactions/v1/game-transaction-round"
    assert message.player_id == "p-1"
    assert message.dedup_key == "game_round:r-1:tx-bet+tx-win"
    assert message.occurred_at == AT
    common = {
        "playerId": "p-1",
        "currency": "EUR",
        "exchangeRate": 1,
        "transactionStatus": "APPROVED",
        "gameId": "g-7",
        "gameName": "Book of Dead",
        "gameCategoryId": "slots",
        "gameCategoryName": "Slots",
        "gameProviderId": "play-n-go",
        "gameProviderName": "Play'n GO",
        "gameSessionId": "s-9",
        "playerIp": "203.0.113.5",
    }
    assert sent(message) == {
        "gameTransactionRound": [
            {
                **common,
                "transactionId": "tx-bet",
                "transactionType": "BET",
                "realMoneyAmount": Decimal("0.1"),
                "bonusMoneyAmount": Decimal("0.2"),
                "date": AT_WIRE,
                "realMoneyBalance": Decimal("99.9"),
                "bonusMoneyBalance": Decimal("4.8"),
            },
            {
                **common,
                "transactionId": "tx-win",
                "transactionType": "WIN",
                "realMoneyAmount": Decimal("1.3"),
                "bonusMoneyAmount": 0,
                "date": "2024-05-01T12:35:00.000Z",
                "realMoneyBalance": Decimal("101.2"),
                "bonusMoneyBalance": Decimal("4.8"),
                "betAmount": Decimal("0.3"),
            },
        ]
    }


def test_it_hands_the_checked_bytes_to_the_outbox_so_the_body_is_encoded_once() -> None:
    message = build_game_round(_round())

    assert message.encoded_body == wire.dumps(message.body)
    assert contract.validate("game_round", wire.loads(message.encoded_body)) == {}


def test_it_serialises_amounts_without_float_error() -> None:
    round_ = _round(_bet(real_amount=Decimal("0.1"), bonus_amount=Decimal("0.2")))

    raw = wire.dumps(build_game_round(round_).body).decode()

    assert '"realMoneyAmount":0.1' in raw
    assert '"bonusMoneyAmount":0.2' in raw
    assert "0.30000000000000004" not in raw
    assert json.loads(raw)  # still plain JSON


def test_it_defaults_the_game_session_to_the_round_id() -> None:
    body = sent(build_game_round(_round(_bet())))

    assert body["gameTransactionRound"][0]["gameSessionId"] == "r-1"


def test_it_sends_only_the_bet_of_a_lost_round() -> None:
    lost = _win(real_amount=Decimal(0), bonus_amount=Decimal(0))

    message = build_game_round(_round(_bet(), lost))

    rows = sent(message)["gameTransactionRound"]
    assert [row["transactionType"] for row in rows] == ["BET"]
    assert message.dedup_key == "game_round:r-1:tx-bet"


def test_it_builds_nothing_for_a_lone_zero_win() -> None:
    lost = _win(real_amount=Decimal(0), bonus_amount=Decimal(0))

    assert build_game_round(_round(lost)) is None


def test_it_rejects_a_bet_without_any_positive_amount() -> None:
    free = _bet(real_amount=Decimal(0), bonus_amount=Decimal(0))

    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(free))

    assert caught.value.field_errors == {
        "gameTransactionRound.0.realMoneyAmount": [
            "at least one of realMoneyAmount and bonusMoneyAmount must be greater than 0"
        ]
    }


def test_it_rejects_a_naive_timestamp() -> None:
    naive = _bet(occurred_at=datetime(2024, 5, 1, 12, 0))  # noqa: DTZ001

    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(naive))

    assert caught.value.field_errors == {"gameTransactionRound.0.date": ["must be timezone-aware"]}


def test_it_rejects_a_float_amount() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(_bet(real_amount=0.1)))

    assert (
        "must be a Decimal"
        in caught.value.field_errors["gameTransactionRound.0.realMoneyAmount"][0]
    )


def test_it_rejects_an_exchange_rate_other_than_1_in_the_instance_currency() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(exchange_rate=Decimal("1.1")))

    assert caught.value.field_errors == {
        "exchangeRate": ["must be 1 for the instance currency EUR"]
    }


def test_it_requires_an_exchange_rate_for_another_currency() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(currency="USD"))

    assert caught.value.field_errors == {"exchangeRate": ["is required when currency is not EUR"]}


def test_it_passes_the_exchange_rate_of_another_currency(settings) -> None:
    settings.PEP_INSTANCE_CURRENCY = "CHF"

    body = sent(build_game_round(_round(exchange_rate=Decimal("0.9512"))))

    assert {row["exchangeRate"] for row in body["gameTransactionRound"]} == {Decimal("0.9512")}


def test_it_surfaces_contract_errors_as_field_errors() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(currency="eur", exchange_rate=Decimal(2)))

    assert caught.value.field_errors["gameTransactionRound.0.currency"] == [
        "must be 3 upper-case letters (ISO 4217)"
    ]
    assert isinstance(caught.value, ValueError)


def test_it_rejects_an_unknown_game_transaction_type() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_game_round(_round(_bet(transaction_type="REFUND")))

    assert caught.value.field_errors == {
        "gameTransactionRound.0.transactionType": ["must be one of BET, WIN"]
    }


def _sport(**changes) -> SportTransactionInput:
    base = SportTransactionInput(
        player_id="p-2",
        transaction_id="sb-1",
        transaction_type="BET",
        real_amount=Decimal("10.00"),
        bonus_amount=Decimal(0),
        currency="EUR",
        real_balance=Decimal("90.00"),
        bonus_balance=Decimal(0),
        occurred_at=AT,
        selections=(
            SportSelection(
                event_name="Basel v Bern",
                match_date=datetime(2024, 5, 4, 18, 30, tzinfo=UTC),
                teams=("Basel", "Bern"),
                market="1X2",
                sport_name="football",
                tournament_name="Super League",
                odds=Decimal("2.15"),
                outcome="1",
            ),
        ),
        real_balance_before=Decimal("100.00"),
        bonus_balance_before=Decimal(0),
    )
    return replace(base, **changes)


def test_it_builds_a_sport_bet_field_by_field() -> None:
    message = build_sport_transaction(_sport())

    assert (message.method, message.path) == ("POST", "/rx-api/transactions/v1/sport-transaction")
    assert (message.player_id, message.dedup_key) == ("p-2", "sport:sb-1")
    assert sent(message) == {
        "playerId": "p-2",
        "transactionId": "sb-1",
        "transactionType": "BET",
        "transactionStatus": "APPROVED",
        "realMoneyAmount": 10,
        "bonusMoneyAmount": 0,
        "currency": "EUR",
        "exchangeRate": 1,
        "date": AT_WIRE,
        "realMoneyBalanceBefore": 100,
        "realMoneyBalance": 90,
        "bonusMoneyBalanceBefore": 0,
        "bonusMoneyBalance": 0,
        "bet": [
            {
                "eventName": "Basel v Bern",
                "teams": ["Basel", "Bern"],
                "market": "1X2",
                "matchDate": "2024-05-04T18:30:00.000Z",
                "sportName": "football",
                "tournamentName": "Super League",
                "odds": Decimal("2.15"),
                "outcomes": [
                    {
                        "sportName": "football",
                        "tournamentName": "Super League",
                        "odds": Decimal("2.15"),
                        "criterial": "1X2",
                        "outcome": "1",
                    }
                ],
            }
        ],
    }


def test_it_sends_a_settlement_with_the_reference_to_its_bet() -> None:
    settlement = _sport(
        transaction_id="sb-2",
        transaction_type="SETTLEMENT",
        real_amount=Decimal("21.50"),
        bet_transaction_id="sb-1",
        selections=(),
        real_balance_before=None,
        bonus_balance_before=None,
    )

    body = sent(build_sport_transaction(settlement))

    assert body["transactionIdReference"] == "sb-1"
    assert body["transactionType"] == "SETTLEMENT"
    assert body["realMoneyAmount"] == Decimal("21.5")
    assert body["bet"] == []
    assert "realMoneyBalanceBefore" not in body


def test_it_sends_a_cashout_and_a_lost_settlement_paying_0() -> None:
    cashout = _sport(transaction_type="CASHOUT", bet_transaction_id="sb-1")
    lost = _sport(transaction_type="SETTLEMENT", bet_transaction_id="sb-1", real_amount=Decimal(0))

    assert sent(build_sport_transaction(cashout))["transactionType"] == "CASHOUT"
    assert sent(build_sport_transaction(lost))["realMoneyAmount"] == 0


def test_it_rejects_a_settlement_without_its_bet() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_sport_transaction(_sport(transaction_type="SETTLEMENT"))

    assert caught.value.field_errors == {
        "transactionIdReference": ["a SETTLEMENT must name its BET"]
    }


def test_it_rejects_a_sport_bet_without_a_stake() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_sport_transaction(_sport(real_amount=Decimal(0)))

    assert "realMoneyAmount" in caught.value.field_errors


def _money(**changes) -> MoneyTransactionInput:
    base = MoneyTransactionInput(
        player_id="p-3",
        transaction_id="dep-1",
        transaction_type="DEPOSIT",
        status="APPROVED",
        amount=Decimal("50.005"),
        currency="EUR",
        real_balance=Decimal("150.005"),
        bonus_balance=Decimal("5"),
        occurred_at=AT,
        payment_method="card",
        payment_provider="adyen",
        card_type="credit",
        card_company="visa",
        player_ip="198.51.100.7",
    )
    return replace(base, **changes)


def test_it_builds_a_deposit_field_by_field() -> None:
    message = build_money_transaction(_money())

    assert (message.method, message.path) == ("POST", "/rx-api/transactions/v1/money-transaction")
    assert (message.player_id, message.dedup_key) == ("p-3", "money:dep-1")
    assert wire.dumps(message.body) == (
        b'{"amount":50.005,"bonusMoneyBalance":5,"cardCompany":"visa","cardType":"credit",'
        b'"currency":"EUR","date":"2024-05-01T12:34:56.789Z","exchangeRate":1,'
        b'"paymentMethod":"card","paymentProvider":"adyen","playerId":"p-3",'
        b'"playerIp":"198.51.100.7","realMoneyBalance":150.005,"transactionId":"dep-1",'
        b'"transactionStatus":"APPROVED","transactionType":"DEPOSIT"}'
    )


@pytest.mark.parametrize("kind", ["WITHDRAW", "MANUAL_CREDIT", "MANUAL_DEBIT"])
def test_it_builds_the_other_money_transaction_types(kind) -> None:
    tx = _money(transaction_type=kind, manual_category="Manual Deposit", payment_method=None)

    body = sent(build_money_transaction(tx))

    assert body["transactionType"] == kind
    assert body["manualCategory"] == "Manual Deposit"
    assert "paymentMethod" not in body


def test_it_skips_a_money_transaction_that_is_not_approved() -> None:
    assert build_money_transaction(_money(status="PENDING")) is None


def test_it_sends_non_approved_money_when_configured(settings) -> None:
    settings.PEP_SEND_NON_APPROVED_MONEY = True

    message = build_money_transaction(_money(status="REJECTED"))

    assert sent(message)["transactionStatus"] == "REJECTED"
    assert message.dedup_key == "money:dep-1:REJECTED"


def test_it_rejects_a_money_amount_of_zero_and_an_unknown_type() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_money_transaction(_money(amount=Decimal(0), transaction_type="REFUND"))

    assert caught.value.field_errors == {
        "amount": ["must be greater than 0"],
        "transactionType": ["must be one of DEPOSIT, WITHDRAW, MANUAL_CREDIT, MANUAL_DEBIT"],
    }


def test_it_builds_a_bonus_granted_event_field_by_field() -> None:
    grant = BonusGrantedInput(
        player_id="p-4",
        grant_id="grant-1",
        bonus_offer_id="WELCOME100",
        amount=Decimal("100.00"),
        currency="EUR",
        occurred_at=AT,
        bonus_offer_name="Welcome 100%",
        bonus_balance=Decimal("100.00"),
    )

    message = build_bonus_granted(grant)

    assert (message.method, message.path) == ("POST", "/rx-api/transactions/v1/bonus-granted")
    assert (message.player_id, message.dedup_key) == ("p-4", "bonus_granted:grant-1")
    assert sent(message) == {
        "playerId": "p-4",
        "transactionId": "grant-1",
        "bonusOfferId": "WELCOME100",
        "bonusOfferName": "Welcome 100%",
        "amount": 100,
        "currency": "EUR",
        "exchangeRate": 1,
        "date": AT_WIRE,
        "bonusMoneyBalance": 100,
    }


def test_it_rejects_a_negative_bonus_amount() -> None:
    grant = BonusGrantedInput("p-4", "g-2", "B", Decimal("-1"), "EUR", AT)

    with pytest.raises(MessageRejected) as caught:
        build_bonus_granted(grant)

    assert caught.value.field_errors == {"amount": ["must not be negative"]}


def test_it_builds_a_balance_update_field_by_field() -> None:
    update = BalanceUpdateInput("p-5", Decimal("-12.50"), Decimal("3.333"), "EUR", AT)

    message = build_balance_update(update)

    assert (message.method, message.path) == ("POST", "/rx-api/transactions/v1/balance-update")
    assert message.dedup_key == f"balance:p-5:{AT_WIRE}"
    assert wire.dumps(message.body) == (
        b'{"bonusMoneyBalance":3.333,"currency":"EUR","date":"2024-05-01T12:34:56.789Z",'
        b'"playerId":"p-5","realMoneyBalance":-12.5}'
    )


def test_every_transaction_body_passes_the_contract() -> None:
    messages = [
        build_game_round(_round()),
        build_sport_transaction(_sport()),
        build_money_transaction(_money()),
        build_balance_update(BalanceUpdateInput("p", Decimal(1), Decimal(0), "EUR", AT)),
    ]

    for message in messages:
        assert contract.validate(message.message_type, sent(message)) == {}
