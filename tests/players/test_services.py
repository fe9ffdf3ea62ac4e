from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from players import selectors, services
from players.models import MarketingConsent, MigrationChunk, MigrationError, MigrationRun, Player
from tests.players.conftest import outbox, player_data

pytestmark = pytest.mark.django_db
MOMENT = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


def test_it_queues_registration_then_full_profile_on_create():
    change = services.player_create(data=player_data())
    assert change.created
    sent = outbox()
    assert [m["type"] for m in sent] == ["player_registration", "player_update"]
    assert sent[0]["body"] == {
        "playerId": "p-1",
        "registrationDevice": "mobile",
        "date": "2024-03-01T10:15:00.000Z",
    }
    assert sent[1]["path"] == "/api/players-data/v1/players/p-1"
    assert sent[1]["body"]["firstName"] == "Anna"
    assert sent[1]["body"]["birthDate"] == "1990-04-01"
    assert "registrationDevice" not in sent[1]["body"]


def test_it_queues_consents_verification_and_tags_given_at_registration():
    data = player_data(
        kyc_status="verified",
        email_verified=True,
        tags=["vip", "high-roller", "vip"],
        consents=[{"channel": "email", "granted": True, "changed_at": MOMENT}],
    )
    services.player_create(data=data)
    types = [m["type"] for m in outbox()]
    assert types.count("player_verification") == 2
    assert outbox("player_tags")[0]["body"]["tags"] == ["high-roller", "vip"]
    assert outbox("player_marketing_preferences")[0]["body"]["channels"] == {"email": True}


def test_it_accepts_the_same_create_twice_and_queues_once():
    services.player_create(data=player_data())
    again = services.player_create(data=player_data())
    assert not again.created
    assert again.changed == frozenset()
    assert len(outbox()) == 2


def test_it_refuses_a_create_with_other_values_for_an_existing_player():
    services.player_create(data=player_data())
    with pytest.raises(services.PlayerConflict) as caught:
        services.player_create(data=player_data(email="other@example.com"))
    assert list(caught.value.errors) == ["email"]
    assert Player.objects.get().email == "anna@example.com"


def test_it_can_store_a_player_without_telling_pep():
    services.player_create(data=player_data(), send=False)
    assert Player.objects.count() == 1
    assert outbox() == []


def test_it_sends_only_the_changed_fields_on_update():
    services.player_create(data=player_data())
    change = services.player_update(
        player_id="p-1", data={"email": "new@example.com", "first_name": "Anna"}
    )
    assert change.changed == frozenset({"email"})
    assert outbox("player_update")[-1]["body"] == {"email": "new@example.com"}


def test_it_sends_nothing_when_an_update_changes_nothing():
    services.player_create(data=player_data())
    before = len(outbox())
    change = services.player_update(player_id="p-1", data={"first_name": "Anna"})
    assert change.changed == frozenset()
    assert len(outbox()) == before


def test_it_clears_a_field_with_null_on_the_wire():
    services.player_create(data=player_data())
    services.player_update(player_id="p-1", data={"phone": ""})
    assert outbox("player_update")[-1]["body"] == {"phone": None}


def test_it_sends_a_consent_change_as_marketing_preferences():
    services.player_create(
        data=player_data(consents=[{"channel": "email", "granted": True, "changed_at": MOMENT}])
    )
    later = MOMENT + timedelta(days=1)
    change = services.player_update(
        player_id="p-1",
        data={"consents": [{"channel": "sms", "granted": True, "changed_at": later}]},
    )
    assert change.changed == frozenset({"marketingConsents"})
    body = outbox("player_marketing_preferences")[-1]["body"]
    assert body["channels"] == {"email": True, "sms": True}
    assert body["date"] == "2024-05-03T08:00:00.000Z"
    consent = MarketingConsent.objects.get(channel="sms")
    assert consent.changed_at == later


def test_it_sends_a_kyc_change_as_a_verification_event():
    services.player_create(data=player_data())
    services.player_update(player_id="p-1", data={"kyc_status": "rejected"})
    body = outbox("player_verification")[-1]["body"]
    assert (body["verificationType"], body["verificationStatus"]) == ("KYC", "REJECTED")
    assert outbox("player_update")[-1]["body"] != {}


def test_it_sends_an_account_status_change_in_the_profile():
    services.player_create(data=player_data())
    services.player_update(player_id="p-1", data={"account_status": "blocked"})
    assert outbox("player_update")[-1]["body"] == {"accountStatus": "blocked"}


def test_it_refuses_an_invalid_value_from_a_python_caller():
    with pytest.raises(services.PlayerInvalid) as caught:
        services.player_create(data=player_data(phone="0791234567"))
    assert "phone" in caught.value.errors
    assert Player.objects.count() == 0
    assert outbox() == []


def test_it_refuses_an_update_of_an_unknown_player():
    with pytest.raises(services.PlayerNotFound):
        services.player_update(player_id="nobody", data={"city": "Bern"})


def test_it_calls_the_change_hooks_with_wire_names(hooks):
    services.player_create(data=player_data())
    services.player_update(player_id="p-1", data={"first_name": "Annie", "city": "Bern"})
    assert hooks[-1] == ("p-1", frozenset({"firstName", "city"}))


def test_it_does_not_call_the_hooks_when_nothing_changed(hooks):
    services.player_create(data=player_data())
    services.player_update(player_id="p-1", data={"first_name": "Anna"})
    assert len(hooks) == 1


def test_it_erases_personal_data_and_queues_the_delete():
    services.player_create(
        data=player_data(
            tags=["vip"],
            consents=[{"channel": "email", "granted": True, "changed_at": MOMENT}],
        )
    )
    services.player_erase(player_id="p-1")
    player = Player.objects.get()
    assert (player.first_name, player.email, player.phone, player.birth_date) == ("", "", "", None)
    assert player.tags == []
    assert player.erased_at is not None
    assert player.account_status == "closed"
    assert (player.country, player.currency) == ("CH", "CHF")  # kept: not personal on their own
    assert not MarketingConsent.objects.get().granted
    delete = outbox("player_delete")
    assert delete == [
        {"type": "player_delete", "path": "/api/players-data/v1/players/p-1", "body": None}
    ]


def test_it_drops_stored_pep_validation_errors_on_erasure():
    change = services.player_create(data=player_data())
    run = MigrationRun.objects.create()
    chunk = MigrationChunk.objects.create(
        run=run, sequence=1, first_pk=1, last_pk=1, player_count=1, body_bytes=1, gzip_bytes=1
    )
    MigrationError.objects.create(chunk=chunk, player=change.player, errors={"email": ["bad"]})
    services.player_erase(player_id="p-1")
    assert MigrationError.objects.count() == 0


def test_erasure_redacts_peps_error_text_on_the_chunks_that_carried_the_player():
    player = services.player_create(data=player_data()).player
    run = MigrationRun.objects.create()
    sizes = {"player_count": 1, "body_bytes": 1, "gzip_bytes": 1}
    error = "http_400: refused: anna@example.com is taken"
    carried = MigrationChunk.objects.create(
        run=run, sequence=1, first_pk=player.pk, last_pk=player.pk, last_error=error, **sizes
    )
    other = MigrationChunk.objects.create(
        run=run,
        sequence=2,
        first_pk=player.pk + 1,
        last_pk=player.pk + 9,
        last_error=error,
        **sizes,
    )
    services.player_erase(player_id="p-1")
    carried.refresh_from_db()
    other.refresh_from_db()
    assert carried.last_error == f"http_400: {MigrationChunk.REDACTED}"
    assert other.last_error == error


def test_it_erases_once_when_asked_twice():
    services.player_create(data=player_data())
    services.player_erase(player_id="p-1")
    again = services.player_erase(player_id="p-1")
    assert again.changed == frozenset()
    assert len(outbox("player_delete")) == 1


def test_it_refuses_changes_and_re_registration_after_erasure():
    services.player_create(data=player_data())
    services.player_erase(player_id="p-1")
    with pytest.raises(services.PlayerErased):
        services.player_update(player_id="p-1", data={"city": "Bern"})
    with pytest.raises(services.PlayerErased):
        services.player_create(data=player_data())


def test_it_upserts_for_loaders():
    services.player_upsert(data=player_data())
    change = services.player_upsert(data=player_data(city="Bern"))
    assert not change.created
    assert change.changed == frozenset({"city"})


def test_it_reports_which_wire_fields_it_holds_values_for():
    player = services.player_create(data=player_data()).player
    values = selectors.player_field_values(player, ["firstName", "city", "birthDate", "nope"])
    assert values == {"firstName": "Anna", "birthDate": player.birth_date}


def test_it_resends_the_fields_it_holds():
    player = services.player_create(data=player_data()).player
    message = services.player_resend_fields(player, ["email", "city"], cause="reconciliation:r1")
    assert message is not None
    assert outbox("player_update")[-1]["body"] == {"email": "anna@example.com"}


def test_it_resends_nothing_when_it_holds_none_of_the_fields():
    player = services.player_create(data=player_data()).player
    before = len(outbox())
    assert services.player_resend_fields(player, ["city"], cause="test") is None
    assert len(outbox()) == before


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"self_excluded": True}, "self_excluded"),
        ({"cool_off_until": timezone.now() + timedelta(days=1)}, "cool_off"),
        ({"account_status": "closed"}, "account_closed"),
        ({"account_status": "blocked"}, "account_blocked"),
        ({"erased_at": timezone.now()}, "account_closed"),
    ],
)
def test_it_says_why_a_player_may_not_get_a_bonus(fields, reason):
    assert Player(player_id="p", **fields).bonus_block_reason() == reason


def test_it_lets_an_ended_self_exclusion_or_cool_off_receive_bonuses():
    past = timezone.now() - timedelta(minutes=1)
    player = Player(
        player_id="p", self_excluded=True, self_excluded_until=past, cool_off_until=past
    )
    assert player.bonus_block_reason() is None


def test_it_ranks_self_exclusion_above_a_closed_account():
    player = Player(player_id="p", self_excluded=True, account_status="closed")
    assert player.bonus_block_reason() == "self_excluded"


def test_it_refuses_fields_the_player_does_not_have():
    with pytest.raises(services.PlayerInvalid) as caught:
        services.player_create(data=player_data(shoe_size=44))
    assert caught.value.errors == {"shoe_size": ["Unknown field."]}


# --- send=False: nothing for PEP, not even a reconciliation repair ---------------------------


def test_it_does_not_call_the_change_hooks_when_not_sending(hooks):
    services.player_create(data=player_data(), send=False)
    services.player_update(player_id="p-1", data={"city": "Bern"}, send=False)
    services.player_upsert(data=player_data(city="Basel"), send=False)
    assert hooks == []


def test_a_no_pep_load_sends_no_reconciliation_repair():
    from reconciliation import services as reconciliation

    services.player_create(data=player_data(email=""))
    receipt = reconciliation.reconciliation_receive(
        request_id="r-1",
        event_date=timezone.now(),
        players=[{"player_id": "p-1", "fields": ["email"]}],
        payload={"requestId": "r-1"},
        cause="pep:test",
    )
    reconciliation.repair_request(receipt.request.pk, cause="task:test")
    before = len(outbox())
    services.player_upsert(data=player_data(email="anna@example.com"), send=False)
    assert len(outbox()) == before


# --- consents: checked by the service, and an older change never wins ------------------------


def _consent(**overrides):
    return {"channel": "email", "granted": True, "changed_at": MOMENT, **overrides}


@pytest.mark.parametrize(
    ("consent", "field"),
    [
        (_consent(channel="fax"), "marketingConsents.0.channel"),
        (_consent(granted="yes"), "marketingConsents.0.granted"),
        ({"channel": "email", "granted": True}, "marketingConsents.0.changedAt"),
        (_consent(changed_at=None), "marketingConsents.0.changedAt"),
        (_consent(changed_at="2024-05-02T08:00:00Z"), "marketingConsents.0.changedAt"),
        (_consent(changed_at=datetime(2024, 5, 2, 8, 0)), "marketingConsents.0.changedAt"),  # noqa: DTZ001
        (_consent(changed_at=timezone.now() + timedelta(days=1)), "marketingConsents.0.changedAt"),
    ],
)
def test_it_refuses_an_invalid_consent_naming_the_field(consent, field):
    with pytest.raises(services.PlayerInvalid) as caught:
        services.player_create(data=player_data(consents=[consent]))
    assert list(caught.value.errors) == [field]
    assert not Player.objects.exists()
    assert outbox() == []


def test_it_refuses_an_invalid_consent_on_update_too():
    services.player_create(data=player_data())
    with pytest.raises(services.PlayerInvalid) as caught:
        services.player_update(player_id="p-1", data={"consents": [_consent(channel="fax")]})
    assert list(caught.value.errors) == ["marketingConsents.0.channel"]
    assert not MarketingConsent.objects.exists()


def test_it_refuses_the_same_channel_twice():
    with pytest.raises(services.PlayerInvalid) as caught:
        services.player_create(data=player_data(consents=[_consent(), _consent(granted=False)]))
    assert list(caught.value.errors) == ["marketingConsents.1.channel"]


def test_an_older_consent_change_does_not_overwrite_a_newer_one(hooks):
    services.player_create(data=player_data(consents=[_consent(granted=False)]))
    before = len(outbox())
    stale = _consent(granted=True, changed_at=MOMENT - timedelta(hours=1))
    change = services.player_update(player_id="p-1", data={"consents": [stale]})
    consent = MarketingConsent.objects.get()
    assert (consent.granted, consent.changed_at) == (False, MOMENT)
    assert change.changed == frozenset()
    assert len(outbox()) == before
    assert len(hooks) == 1  # the create only


def test_a_stale_consent_is_left_out_while_a_newer_one_beside_it_is_applied():
    services.player_create(data=player_data(consents=[_consent(granted=False)]))
    later = MOMENT + timedelta(hours=1)
    services.player_update(
        player_id="p-1",
        data={
            "consents": [
                _consent(granted=True, changed_at=MOMENT - timedelta(hours=1)),
                _consent(channel="sms", granted=True, changed_at=later),
            ]
        },
    )
    body = outbox("player_marketing_preferences")[-1]["body"]
    assert body["channels"] == {"email": False, "sms": True}
    assert MarketingConsent.objects.get(channel="email").granted is False
