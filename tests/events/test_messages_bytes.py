"""The bytes PEP receives, pinned: one fully populated message per outbound message type.

Stored outbox rows are compared by their body's bytes (a round's idempotency is its fingerprint),
so a refactoring of the builders must not change a single byte. Every optional field is given,
so that each wire name is pinned too. (The encoding sorts keys: the order a builder lists its
fields in does not reach the bytes.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from events.messages import (
    BUILDERS,
    BalanceUpdateInput,
    BonusGrantedInput,
    BonusOfferInput,
    CrmTriggerInput,
    GameRoundInput,
    GameTransaction,
    MoneyTransactionInput,
    SportSelection,
    SportTransactionInput,
    build_balance_update,
    build_bonus_granted,
    build_bonus_offer_delete,
    build_bonus_offer_upsert,
    build_crm_trigger,
    build_game_round,
    build_marketing_preferences,
    build_money_transaction,
    build_player_create,
    build_player_delete,
    build_player_login,
    build_player_logout,
    build_player_registration,
    build_player_tags,
    build_player_update,
    build_sport_transaction,
    build_unsubscribe,
    build_verification,
)
from events.outbox import PepMessage

AT = datetime(2024, 5, 1, 12, 34, 56, 789_000, tzinfo=UTC)

PROFILE = {
    "username": "ana",
    "first_name": "Ana",
    "last_name": "Ruiz",
    "email": "ana@example.com",
    "phone": "+34600000000",
    "gender": "F",
    "birth_date": date(1990, 2, 3),
    "country": "ES",
    "city": "Madrid",
    "language": "es",
    "currency": "EUR",
    "brand_id": "b-1",
    "registration_date": AT,
    "registration_device": "mobile",
    "account_status": "active",
    "self_excluded": False,
    "self_excluded_until": AT + timedelta(days=1),
    "cool_off_until": AT + timedelta(days=2),
    "at_risk": True,
}


@pytest.fixture(autouse=True)
def _instance_currency(settings):
    settings.PEP_INSTANCE_CURRENCY = "EUR"
    settings.PEP_SEND_NON_APPROVED_MONEY = False


def _tx(transaction_id: str, kind: str, real: str) -> GameTransaction:
    return GameTransaction(
        transaction_id=transaction_id,
        transaction_type=kind,
        real_amount=Decimal(real),
        bonus_amount=Decimal("0.20"),
        real_balance=Decimal("99.90"),
        bonus_balance=Decimal("-4.80"),
        occurred_at=AT,
        bet_amount=Decimal("0.10"),
    )


def _game_round() -> PepMessage | None:
    return build_game_round(
        GameRoundInput(
            player_id="p-1",
            round_id="r-1",
            currency="USD",
            game_id="g-1",
            game_name="Book",
            game_category_id="slots",
            game_category_name="Slots",
            game_provider_id="png",
            game_provider_name="PNG",
            transactions=(_tx("t-1", "BET", "0.10"), _tx("t-2", "WIN", "1.50")),
            game_session_id="s-1",
            exchange_rate=Decimal("0.9"),
            player_ip="10.0.0.1",
            category_provider_id="cp-1",
        )
    )


def _sport() -> PepMessage:
    leg = SportSelection(
        event_name="A - B",
        match_date=AT,
        teams=("A", "B"),
        market="1X2",
        sport_name="football",
        tournament_name="Liga",
        odds=Decimal("2.5"),
        outcome="1",
    )
    return build_sport_transaction(
        SportTransactionInput(
            player_id="p-1",
            transaction_id="st-2",
            transaction_type="SETTLEMENT",
            real_amount=Decimal("25"),
            bonus_amount=Decimal("0"),
            currency="USD",
            real_balance=Decimal("125"),
            bonus_balance=Decimal("0"),
            occurred_at=AT,
            selections=(leg,),
            bet_transaction_id="st-1",
            exchange_rate=Decimal("0.9"),
            real_balance_before=Decimal("100"),
            bonus_balance_before=Decimal("0"),
        )
    )


def _money() -> PepMessage | None:
    return build_money_transaction(
        MoneyTransactionInput(
            player_id="p-1",
            transaction_id="mt-1",
            transaction_type="DEPOSIT",
            status="APPROVED",
            amount=Decimal("100.00"),
            currency="USD",
            real_balance=Decimal("100"),
            bonus_balance=Decimal("0"),
            occurred_at=AT,
            exchange_rate=Decimal("0.9"),
            payment_method="card",
            payment_provider="adyen",
            card_type="credit",
            card_company="visa",
            player_ip="10.0.0.1",
            manual_category="goodwill",
        )
    )


def _bonus_granted() -> PepMessage:
    return build_bonus_granted(
        BonusGrantedInput(
            player_id="p-1",
            grant_id="bonus-1",
            bonus_offer_id="WELCOME",
            amount=Decimal("10"),
            currency="USD",
            occurred_at=AT,
            bonus_offer_name="Welcome",
            exchange_rate=Decimal("0.9"),
            real_balance=Decimal("1"),
            bonus_balance=Decimal("10"),
        )
    )


def _balance() -> PepMessage:
    return build_balance_update(BalanceUpdateInput("p-1", Decimal("1.5"), Decimal("2"), "EUR", AT))


def _crm_trigger() -> PepMessage:
    return build_crm_trigger(
        CrmTriggerInput(
            event_name="reset-password",
            occurred_at=AT,
            player_id="p-1",
            values={"link": "https://x/1", "n": 3, "ok": True, "on": date(2024, 5, 2)},
            version="2",
            external={"email": "x@example.com"},
            delay=timedelta(minutes=5),
            keep_counter=True,
            trigger_id="t-1",
        )
    )


def _offer() -> PepMessage:
    return build_bonus_offer_upsert(
        BonusOfferInput(
            bonus_offer_id="WELCOME",
            name="Welcome",
            bonus_type="DEPOSIT_MATCH",
            active=True,
            description="100%",
            amount=Decimal("50"),
            currency="EUR",
            valid_from=AT,
            valid_to=AT + timedelta(days=30),
        )
    )


BUILT = {
    "game_round": _game_round,
    "sport_transaction": _sport,
    "money_transaction": _money,
    "bonus_granted": _bonus_granted,
    "balance_update": _balance,
    "player_registration": lambda: build_player_registration("p-1", AT, device="mobile"),
    "player_login": lambda: build_player_login("p-1", AT),
    "player_logout": lambda: build_player_logout("p-1", AT),
    "player_update": lambda: build_player_update("p-1", {**PROFILE, "city": ""}, AT),
    "player_create": lambda: build_player_create("p-1", PROFILE, AT),
    "player_delete": lambda: build_player_delete("p-1", AT),
    "player_tags": lambda: build_player_tags("p-1", ["vip", "new"], AT),
    "player_marketing_preferences": lambda: build_marketing_preferences(
        "p-1", {"on_site": True, "email": False, "sms": True, "push": False, "phone": True}, AT
    ),
    "player_verification": lambda: build_verification("p-1", "kyc", "verified", AT),
    "player_unsubscribe": lambda: build_unsubscribe("p-1", "c-1", AT, reason="spam"),
    "crm_trigger": _crm_trigger,
    "bonus_offer_upsert": _offer,
    "bonus_offer_delete": lambda: build_bonus_offer_delete("WELCOME"),
}

PINNED: dict[str, bytes | None] = {
    "balance_update": (
        b'{"bonusMoneyBalance":2,"currency":"EUR","date":"2024-05-01T12:34:56.789Z",'
        b'"playerId":"p-1","realMoneyBalance":1.5}'
    ),
    "bonus_granted": (
        b'{"amount":10,"bonusMoneyBalance":10,"bonusOfferId":"WELCOME",'
        b'"bonusOfferName":"Welcome","currency":"USD","date":"2024-05-01T12:34:56.789Z",'
        b'"exchangeRate":0.9,"playerId":"p-1","realMoneyBalance":1,"transactionId":"bonus-1"}'
    ),
    "bonus_offer_delete": None,
    "bonus_offer_upsert": (
        b'{"amount":50,"bonusType":"DEPOSIT_MATCH","currency":"EUR","description":"100%",'
        b'"name":"Welcome","status":"ACTIVE","validFrom":"2024-05-01T12:34:56.789Z",'
        b'"validTo":"2024-05-31T12:34:56.789Z"}'
    ),
    "crm_trigger": (
        b'{"delay":{"duration":"PT5M"},"eventDate":"2024-05-01T12:34:56.789Z",'
        b'"eventName":"reset-password","external":{"email":"x@example.com"},'
        b'"keepCounter":true,"payload":[{"key":"link","type":"string","value":"https://x/1"},'
        b'{"key":"n","type":"number","value":3},{"key":"ok","type":"boolean","value":true},'
        b'{"key":"on","type":"date","value":"2024-05-02"}],"playerId":"p-1","version":"2"}'
    ),
    "game_round": (
        b'{"gameTransactionRound":[{"betAmount":0.1,"bonusMoneyAmount":0.2,'
        b'"bonusMoneyBalance":-4.8,"categoryProviderId":"cp-1","currency":"USD",'
        b'"date":"2024-05-01T12:34:56.789Z","exchangeRate":0.9,"gameCategoryId":"slots",'
        b'"gameCategoryName":"Slots","gameId":"g-1","gameName":"Book","gameProviderId":"png",'
        b'"gameProviderName":"PNG","gameSessionId":"s-1","playerId":"p-1",'
        b'"playerIp":"10.0.0.1","realMoneyAmount":0.1,"realMoneyBalance":99.9,'
        b'"transactionId":"t-1","transactionStatus":"APPROVED","transactionType":"BET"},'
        b'{"betAmount":0.1,"bonusMoneyAmount":0.2,"bonusMoneyBalance":-4.8,'
        b'"categoryProviderId":"cp-1","currency":"USD","date":"2024-05-01T12:34:56.789Z",'
        b'"exchangeRate":0.9,"gameCategoryId":"slots","gameCategoryName":"Slots",'
        b'"gameId":"g-1","gameName":"Book","gameProviderId":"png","gameProviderName":"PNG",'
        b'"gameSessionId":"s-1","playerId":"p-1","playerIp":"10.0.0.1","realMoneyAmount":1.5,'
        b'"realMoneyBalance":99.9,"transactionId":"t-2","transactionStatus":"APPROVED",'
        b'"transactionType":"WIN"}]}'
    ),
    "money_transaction": (
        b'{"amount":100,"bonusMoneyBalance":0,"cardCompany":"visa","cardType":"credit",'
        b'"currency":"USD","date":"2024-05-01T12:34:56.789Z","exchangeRate":0.9,'
        b'"manualCategory":"goodwill","paymentMethod":"card","paymentProvider":"adyen",'
        b'"playerId":"p-1","playerIp":"10.0.0.1","realMoneyBalance":100,'
        b'"transactionId":"mt-1","transactionStatus":"APPROVED","transactionType":"DEPOSIT"}'
    ),
    "player_create": (
        b'{"accountStatus":"active","atRisk":true,"birthDate":"1990-02-03","brandId":"b-1",'
        b'"city":"Madrid","coolOffUntil":"2024-05-03T12:34:56.789Z","country":"ES",'
        b'"currency":"EUR","email":"ana@example.com","firstName":"Ana","gender":"F",'
        b'"language":"es","lastName":"Ruiz","phone":"+34600000000","playerId":"p-1",'
        b'"registrationDate":"2024-05-01T12:34:56.789Z","registrationDevice":"mobile",'
        b'"selfExcluded":false,"selfExcludedUntil":"2024-05-02T12:34:56.789Z",'
        b'"username":"ana"}'
    ),
    "player_delete": None,
    "player_login": (b'{"date":"2024-05-01T12:34:56.789Z","playerId":"p-1"}'),
    "player_logout": (b'{"date":"2024-05-01T12:34:56.789Z","playerId":"p-1"}'),
    "player_marketing_preferences": (
        b'{"channels":{"email":false,"onSite":true,"phone":true,"push":false,"sms":true},'
        b'"date":"2024-05-01T12:34:56.789Z","playerId":"p-1"}'
    ),
    "player_registration": (
        b'{"date":"2024-05-01T12:34:56.789Z","playerId":"p-1","registrationDevice":"mobile"}'
    ),
    "player_tags": (b'{"playerId":"p-1","tags":["vip","new"]}'),
    "player_unsubscribe": (
        b'{"campaignId":"c-1","date":"2024-05-01T12:34:56.789Z","playerId":"p-1","reason":"spam"}'
    ),
    "player_update": (
        b'{"accountStatus":"active","atRisk":true,"birthDate":"1990-02-03","brandId":"b-1",'
        b'"city":null,"coolOffUntil":"2024-05-03T12:34:56.789Z","country":"ES",'
        b'"currency":"EUR","email":"ana@example.com","firstName":"Ana","gender":"F",'
        b'"language":"es","lastName":"Ruiz","phone":"+34600000000",'
        b'"registrationDate":"2024-05-01T12:34:56.789Z","registrationDevice":"mobile",'
        b'"selfExcluded":false,"selfExcludedUntil":"2024-05-02T12:34:56.789Z",'
        b'"username":"ana"}'
    ),
    "player_verification": (
        b'{"date":"2024-05-01T12:34:56.789Z","playerId":"p-1","verificationStatus":"VERIFIED",'
        b'"verificationType":"KYC"}'
    ),
    "sport_transaction": (
        b'{"bet":[{"eventName":"A - B","market":"1X2","matchDate":"2024-05-01T12:34:56.789Z",'
        b'"odds":2.5,"outcomes":[{"criterial":"1X2","odds":2.5,"outcome":"1",'
        b'"sportName":"football","tournamentName":"Liga"}],"sportName":"football",'
        b'"teams":["A","B"],"tournamentName":"Liga"}],"bonusMoneyAmount":0,'
        b'"bonusMoneyBalance":0,"bonusMoneyBalanceBefore":0,"currency":"USD",'
        b'"date":"2024-05-01T12:34:56.789Z","exchangeRate":0.9,"playerId":"p-1",'
        b'"realMoneyAmount":25,"realMoneyBalance":125,"realMoneyBalanceBefore":100,'
        b'"transactionId":"st-2","transactionIdReference":"st-1",'
        b'"transactionStatus":"APPROVED","transactionType":"SETTLEMENT"}'
    ),
}


def test_every_builder_has_a_pinned_message() -> None:
    assert set(BUILT) == set(BUILDERS) == set(PINNED)


@pytest.mark.parametrize("message_type", sorted(PINNED))
def test_it_sends_exactly_the_pinned_bytes(message_type: str) -> None:
    message = BUILT[message_type]()

    assert message is not None
    assert message.message_type == message_type
    assert message.encoded_body == PINNED[message_type]
