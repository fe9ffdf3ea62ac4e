"""The CRM and bonus-catalogue builders produce exactly the contract's wire format."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from events.messages import (
    BUILDERS,
    BonusOfferInput,
    CrmTriggerInput,
    MessageRejected,
    build_bonus_offer_delete,
    build_bonus_offer_upsert,
    build_crm_trigger,
    build_unsubscribe,
)
from events.messages.crm import iso_duration
from pepbridge.pep import contract, wire

AT = datetime(2024, 5, 1, 12, 34, 56, 789_000, tzinfo=UTC)
AT_WIRE = "2024-05-01T12:34:56.789Z"


def sent(message) -> dict:
    return wire.loads(wire.dumps(message.body))


def test_it_builds_an_unsubscribe_event() -> None:
    message = build_unsubscribe("p-1", "camp-9", AT, reason="too many e-mails")

    assert message.method == "POST"
    assert message.path == "/rx-api/analytics/v1/register/event/unsubscribe"
    assert message.dedup_key == f"unsubscribe:p-1:camp-9:{AT_WIRE}"
    assert sent(message) == {
        "playerId": "p-1",
        "campaignId": "camp-9",
        "reason": "too many e-mails",
        "date": AT_WIRE,
    }


def test_it_leaves_out_a_missing_unsubscribe_reason() -> None:
    assert "reason" not in sent(build_unsubscribe("p-1", "camp-9", AT))


def test_it_builds_a_crm_trigger_with_typed_payload_items() -> None:
    trigger = CrmTriggerInput(
        event_name="reset-password",
        occurred_at=AT,
        player_id="p-1",
        values={
            "link": "https://casino.example/r/abc",
            "attempt": 2,
            "amount": Decimal("12.50"),
            "urgent": True,
            "expires": AT + timedelta(hours=1),
            "birthday": date(1990, 2, 28),
        },
        version="v1",
        delay=timedelta(days=1, hours=2, minutes=30),
        keep_counter=True,
        trigger_id="t-1",
    )

    message = build_crm_trigger(trigger)

    assert (message.method, message.path) == ("POST", "/rx-api/crm/v1/trigger-action")
    assert (message.player_id, message.dedup_key) == ("p-1", "crm:t-1")
    assert sent(message) == {
        "eventName": "reset-password",
        "playerId": "p-1",
        "version": "v1",
        "eventDate": AT_WIRE,
        "payload": [
            {"key": "link", "type": "string", "value": "https://casino.example/r/abc"},
            {"key": "attempt", "type": "number", "value": 2},
            {"key": "amount", "type": "number", "value": Decimal("12.5")},
            {"key": "urgent", "type": "boolean", "value": True},
            {"key": "expires", "type": "date", "value": "2024-05-01T13:34:56.789Z"},
            {"key": "birthday", "type": "date", "value": "1990-02-28"},
        ],
        "delay": {"duration": "P1DT2H30M"},
        "keepCounter": True,
    }


def test_it_builds_a_crm_trigger_for_someone_who_is_not_a_player() -> None:
    trigger = CrmTriggerInput("newsletter-confirm", AT, external={"email": "x@example.com"})

    message = build_crm_trigger(trigger)

    assert (message.player_id, message.dedup_key) == (None, None)
    assert sent(message) == {
        "eventName": "newsletter-confirm",
        "eventDate": AT_WIRE,
        "external": {"email": "x@example.com"},
    }


def test_it_uses_the_configured_path_for_crm_triggers(settings) -> None:
    settings.PEP_PATHS = {"crm_trigger": "/rx-api/crm/v2/process-trigger"}

    message = build_crm_trigger(CrmTriggerInput("welcome", AT, player_id="p-1"))

    assert message.path == "/rx-api/crm/v2/process-trigger"


def test_it_rejects_a_trigger_without_player_or_external() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_crm_trigger(CrmTriggerInput("welcome", AT))

    assert caught.value.field_errors == {"playerId": ["playerId or external is required"]}


def test_it_rejects_a_bad_event_name_a_float_value_and_a_negative_delay() -> None:
    trigger = CrmTriggerInput(
        "reset password", AT, player_id="p-1", values={"x": 0.1}, delay=timedelta(seconds=-1)
    )

    with pytest.raises(MessageRejected) as caught:
        build_crm_trigger(trigger)

    assert set(caught.value.field_errors) == {"payload.0.value", "delay.duration"}
    with pytest.raises(MessageRejected) as named:
        build_crm_trigger(CrmTriggerInput("reset password", AT, player_id="p-1"))
    assert named.value.field_errors == {"eventName": ["letters, digits, - and _ only"]}


@pytest.mark.parametrize(
    ("delay", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(minutes=15), "PT15M"),
        (timedelta(days=2), "P2D"),
        (timedelta(hours=1, seconds=1.5), "PT1H1.5S"),
    ],
)
def test_it_writes_iso_8601_durations(delay, text) -> None:
    assert iso_duration(delay) == text


def _offer(**changes) -> BonusOfferInput:
    values = {
        "bonus_offer_id": "WELCOME/100",
        "name": "Welcome 100%",
        "bonus_type": "DEPOSIT_MATCH",
        "active": True,
        "description": "Double your first deposit",
        "amount": Decimal("100.00"),
        "currency": "EUR",
        "valid_from": AT,
        "valid_to": AT + timedelta(days=30),
    }
    return BonusOfferInput(**{**values, **changes})


def test_it_builds_a_bonus_offer_upsert_field_by_field() -> None:
    message = build_bonus_offer_upsert(_offer())

    assert message.method == "PUT"
    assert message.path == "/rx-api/bonus-offer/v1/offer/WELCOME%2F100"
    assert (message.player_id, message.dedup_key) == ("bonus-offer:WELCOME/100", None)
    assert sent(message) == {
        "name": "Welcome 100%",
        "description": "Double your first deposit",
        "bonusType": "DEPOSIT_MATCH",
        "status": "ACTIVE",
        "amount": 100,
        "currency": "EUR",
        "validFrom": AT_WIRE,
        "validTo": "2024-05-31T12:34:56.789Z",
    }


def test_it_sends_an_inactive_offer_with_only_its_required_fields() -> None:
    offer = _offer(active=False, description=None, amount=None, currency=None, valid_from=None)

    assert sent(build_bonus_offer_upsert(offer)) == {
        "name": "Welcome 100%",
        "bonusType": "DEPOSIT_MATCH",
        "status": "INACTIVE",
        "validTo": "2024-05-31T12:34:56.789Z",
    }


def test_it_rejects_an_offer_that_ends_before_it_starts() -> None:
    with pytest.raises(MessageRejected) as caught:
        build_bonus_offer_upsert(_offer(valid_to=AT - timedelta(days=1)))

    assert caught.value.field_errors == {"validTo": ["must be after validFrom"]}


def test_it_builds_a_bonus_offer_delete() -> None:
    message = build_bonus_offer_delete("WELCOME100")

    assert (message.method, message.path) == ("DELETE", "/rx-api/bonus-offer/v1/offer/WELCOME100")
    assert message.body is None
    assert message.player_id == "bonus-offer:WELCOME100"


def test_there_is_one_builder_for_every_outbound_message_type() -> None:
    not_messages = {"token", "players_migration_batch"}

    assert set(BUILDERS) == set(contract.MESSAGE_TYPES) - not_messages
