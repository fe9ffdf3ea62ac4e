"""contract.wire_body writes attr values under PEP's names; the profile mapping is the spec's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from events.messages import CHANNEL_WIRE_NAMES, PROFILE_WIRE_NAMES
from pepbridge.pep import contract
from players.models import ConsentChannel, Player


def test_it_names_fields_for_pep_in_the_order_given_and_leaves_out_none() -> None:
    spec = contract.body_spec("money_transaction")

    body = contract.wire_body(spec, transaction_id="mt-1", player_id="p-1", card_type=None)

    assert list(body.items()) == [("transactionId", "mt-1"), ("playerId", "p-1")]


def test_it_keeps_null_on_a_nullable_profile_field_meaning_clear_it() -> None:
    spec = contract.body_spec("player_update")

    assert contract.wire_body(spec, first_name="Ana", last_name=None) == {
        "firstName": "Ana",
        "lastName": None,
    }


def test_it_translates_nested_objects_and_arrays_of_objects() -> None:
    trigger = contract.body_spec("crm_trigger")
    body = contract.wire_body(
        trigger,
        event_name="e",
        payload=[{"key": "k", "type": "number", "value": Decimal(1)}],
        external={"any_name": 1},  # an object without properties of its own passes as given
        delay={"duration": "PT1M"},
        keep_counter=None,
    )

    assert body == {
        "eventName": "e",
        "payload": [{"key": "k", "type": "number", "value": Decimal(1)}],
        "external": {"any_name": 1},
        "delay": {"duration": "PT1M"},
    }
    preferences = contract.body_spec("player_marketing_preferences")
    assert contract.wire_body(preferences, channels={"on_site": True}) == {
        "channels": {"onSite": True}
    }


def test_an_attr_the_spec_does_not_know_fails_where_it_is_written() -> None:
    with pytest.raises(KeyError, match="no field 'transactionId'"):
        contract.wire_body(contract.body_spec("money_transaction"), transactionId="mt-1")


def test_a_type_without_a_body_has_no_spec() -> None:
    with pytest.raises(ValueError, match="player_delete takes no body"):
        contract.body_spec("player_delete")


def test_the_profile_mapping_is_the_profile_spec_and_names_player_fields() -> None:
    spec = contract.body_spec("player_update")
    model_fields = {field.name for field in Player._meta.get_fields()}

    assert {item.attr: item.name for item in spec.fields} == PROFILE_WIRE_NAMES
    assert len(PROFILE_WIRE_NAMES) == 19
    assert set(PROFILE_WIRE_NAMES) <= model_fields
    assert set(CHANNEL_WIRE_NAMES) == set(ConsentChannel.values)
