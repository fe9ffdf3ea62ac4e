"""The catalogue push, the grant rules and the assignment bookkeeping, without HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from bonuses import services
from bonuses.models import (
    AssignmentItem,
    Bonus,
    BonusAssignment,
    PlayerBonus,
    RejectedAssignment,
)
from bonuses.services import grants
from events.models import OutboxMessage
from events.services.subscriptions import subscription_create
from players.models import AccountStatus

pytestmark = pytest.mark.django_db

Reason = AssignmentItem.Reason


def _request(request_id: str = "r-1", *players: str, bonus: str = "WELCOME-10", **kw: Any):
    return services.AssignRequest(
        request_id=request_id,
        event_date=timezone.now(),
        player_ids=players or ("p-1",),
        bonus_ref=bonus,
        **kw,
    )


def _accept_and_process(request: services.AssignRequest) -> BonusAssignment:
    body = {"requestId": request.request_id, "playerIds": list(request.player_ids)}
    result = services.assignment_accept(client_key="pep", request=request, body=body)
    return services.assignment_process(assignment_id=result.assignment.pk)


def _outbox(message_type: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(message_type=message_type).order_by("pk"))


# --- catalogue push -------------------------------------------------------------------------


def test_it_queues_an_offer_upsert_when_a_bonus_is_created() -> None:
    services.bonus_create(
        bonus_id="FS-50",
        name="50 free spins",
        bonus_type="free_spins",
        amount=Decimal("50"),
        description="On Book of Dead",
    )
    (row,) = _outbox("bonus_offer_upsert")
    assert (row.method, row.path) == ("PUT", "/rx-api/bonus-offer/v1/offer/FS-50")
    assert json.loads(row.body) == {
        "name": "50 free spins",
        "description": "On Book of Dead",
        "bonusType": "free_spins",
        "status": "ACTIVE",
        "amount": 50,
    }


def test_it_queues_an_upsert_with_the_new_values_when_a_bonus_changes(make_bonus) -> None:
    bonus = make_bonus()
    services.bonus_update(bonus=bonus, name="Welcome 20", amount=Decimal("20"), is_active=False)
    (row,) = _outbox("bonus_offer_upsert")
    body = json.loads(row.body)
    assert (body["name"], body["amount"], body["status"]) == ("Welcome 20", 20, "INACTIVE")
    assert body["currency"] == "EUR"
    assert Bonus.objects.get(pk=bonus.pk).name == "Welcome 20"


def test_it_queues_an_offer_delete_when_a_bonus_is_retired(make_bonus) -> None:
    bonus = services.bonus_retire(bonus=make_bonus())
    (row,) = _outbox("bonus_offer_delete")
    assert (row.method, row.path, row.body) == (
        "DELETE",
        "/rx-api/bonus-offer/v1/offer/WELCOME-10",
        None,
    )
    assert bonus.retired_at is not None and not bonus.is_active


def test_it_does_not_queue_a_second_delete_when_retiring_twice(make_bonus) -> None:
    bonus = make_bonus()
    services.bonus_retire(bonus=bonus)
    services.bonus_retire(bonus=bonus)
    assert len(_outbox("bonus_offer_delete")) == 1


def test_it_refuses_to_change_a_retired_bonus(make_bonus) -> None:
    bonus = services.bonus_retire(bonus=make_bonus())
    with pytest.raises(ValueError, match="retired"):
        services.bonus_update(bonus=bonus, name="Back again")


def test_it_refuses_a_bonus_with_both_amount_and_percentage_and_queues_nothing() -> None:
    with pytest.raises(ValidationError):
        services.bonus_create(
            bonus_id="X",
            name="X",
            bonus_type="cash",
            amount=Decimal("5"),
            percentage=Decimal("100"),
        )
    assert not Bonus.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_it_refuses_a_validity_window_that_ends_before_it_starts() -> None:
    now = timezone.now()
    with pytest.raises(ValidationError):
        services.bonus_create(
            bonus_id="X",
            name="X",
            bonus_type="cash",
            amount=Decimal("5"),
            valid_from=now,
            valid_to=now - timedelta(days=1),
        )


def test_it_refuses_to_change_the_bonus_id(make_bonus) -> None:
    with pytest.raises(TypeError):
        services.bonus_update(bonus=make_bonus(), bonus_id="OTHER")


# --- the grant ------------------------------------------------------------------------------


def test_it_grants_and_queues_bonus_granted_in_one_go(make_bonus, make_player) -> None:
    make_bonus(wagering_requirement=Decimal("30"), expires_after_days=7)
    make_player("p-1")
    assignment = _accept_and_process(_request("r-1", "p-1"))

    assert assignment.status == BonusAssignment.Status.PROCESSED
    grant = PlayerBonus.objects.get()
    assert (grant.status, grant.amount, grant.currency) == ("granted", Decimal("10"), "EUR")
    assert grant.wagering_required == Decimal("300")
    assert grant.expires_at - grant.granted_at == timedelta(days=7)
    assert grant.source_request_id == "r-1"
    (row,) = _outbox("bonus_granted")
    body = json.loads(row.body)
    assert body["playerId"] == "p-1"
    assert body["transactionId"] == f"bonus-{grant.pk}"
    assert (body["bonusOfferId"], body["amount"], body["currency"]) == ("WELCOME-10", 10, "EUR")
    assert row.dedup_key == f"bonus_granted:bonus-{grant.pk}"


def test_a_grant_is_forwarded_to_the_operators_subscriptions_with_its_message(
    make_bonus, make_player
) -> None:
    issued = subscription_create(name="crm", url="https://crm.test/h", event_types=["bridge.*"])
    make_bonus()
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1"))
    grant = PlayerBonus.objects.get()
    (row,) = _outbox("operator_webhook")
    assert row.subscription_id == issued.subscription.pk and row.player_id == "p-1"
    body = json.loads(row.body)
    assert body["type"] == "bridge.bonus_granted"
    assert body["data"]["playerBonusId"] == grant.pk
    assert (body["data"]["bonusId"], body["data"]["amount"]) == ("WELCOME-10", 10)
    assert body["data"]["sourceRequestId"] == "r-1"


def test_it_uses_the_amount_from_the_request_when_given(make_bonus, make_player) -> None:
    make_bonus(amount_override_allowed=True)
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1", amount=Decimal("25.50")))
    assert PlayerBonus.objects.get().amount == Decimal("25.50")
    assert json.loads(_outbox("bonus_granted")[0].body)["amount"] == 25.5


def test_it_reports_a_percentage_bonus_as_granted_with_amount_zero(make_bonus, make_player) -> None:
    make_bonus("MATCH-100", amount=None, percentage=Decimal("100"), bonus_type="deposit_match")
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1", bonus="MATCH-100"))
    assert json.loads(_outbox("bonus_granted")[0].body)["amount"] == 0


def _refusal(**bonus_fields: Any) -> str:
    item = AssignmentItem.objects.get()
    assert item.outcome == AssignmentItem.Outcome.REFUSED
    assert not PlayerBonus.objects.exists()
    assert not _outbox("bonus_granted")
    return item.reason


def test_it_refuses_an_inactive_bonus(make_bonus, make_player) -> None:
    make_bonus(is_active=False)
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1"))
    assert _refusal() == Reason.BONUS_INACTIVE


def test_it_refuses_a_bonus_not_yet_valid(make_bonus, make_player) -> None:
    make_bonus(valid_from=timezone.now() + timedelta(days=1))
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1"))
    assert _refusal() == Reason.OUTSIDE_WINDOW


def test_it_refuses_a_bonus_no_longer_valid(make_bonus, make_player) -> None:
    now = timezone.now()
    make_bonus(valid_from=now - timedelta(days=10), valid_to=now - timedelta(days=1))
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1"))
    assert _refusal() == Reason.OUTSIDE_WINDOW


def test_it_refuses_an_unknown_player(make_bonus) -> None:
    make_bonus()
    _accept_and_process(_request("r-1", "nobody"))
    assert _refusal() == Reason.UNKNOWN_PLAYER


def test_it_refuses_a_self_excluded_player(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1", self_excluded=True)
    _accept_and_process(_request("r-1", "p-1"))
    assert _refusal() == Reason.SELF_EXCLUDED


def test_it_grants_once_a_self_exclusion_has_ended(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1", self_excluded=True, self_excluded_until=timezone.now() - timedelta(days=1))
    _accept_and_process(_request("r-1", "p-1"))
    assert AssignmentItem.objects.get().outcome == AssignmentItem.Outcome.GRANTED


def test_it_refuses_a_player_in_cool_off(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1", cool_off_until=timezone.now() + timedelta(hours=1))
    _accept_and_process(_request("r-1", "p-1"))
    assert _refusal() == Reason.COOL_OFF


def test_it_refuses_a_closed_account(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1", account_status=AccountStatus.CLOSED)
    _accept_and_process(_request("r-1", "p-1"))
    assert _refusal() == Reason.ACCOUNT_CLOSED


def test_it_refuses_beyond_the_maximum_grants_per_player(make_bonus, make_player) -> None:
    make_bonus(max_grants_per_player=1)
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1"))
    _accept_and_process(_request("r-2", "p-1"))
    outcomes = list(AssignmentItem.objects.order_by("pk").values_list("outcome", "reason"))
    assert outcomes == [("granted", ""), ("refused", Reason.MAX_GRANTS)]
    assert PlayerBonus.objects.count() == 1


def test_it_does_not_count_cancelled_grants_towards_the_maximum(make_bonus, make_player) -> None:
    make_bonus(max_grants_per_player=1)
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1"))
    PlayerBonus.objects.update(status=PlayerBonus.Status.CANCELLED)
    _accept_and_process(_request("r-2", "p-1"))
    assert PlayerBonus.objects.count() == 2


def test_it_decides_each_player_of_a_list_on_its_own(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1")
    make_player("p-2", self_excluded=True)
    _accept_and_process(_request("r-1", "p-1", "p-2", "p-3"))
    outcomes = dict(AssignmentItem.objects.values_list("player_id", "reason"))
    assert outcomes == {"p-1": "", "p-2": Reason.SELF_EXCLUDED, "p-3": Reason.UNKNOWN_PLAYER}
    assert len(_outbox("bonus_granted")) == 1


def test_it_refuses_rather_than_grants_silently_when_pep_would_reject_it(
    make_bonus, make_player, settings
) -> None:
    settings.PEP_INSTANCE_CURRENCY = "EUR"
    make_bonus("USD-10", currency="USD")  # no exchange rate known for USD
    make_player("p-1")
    _accept_and_process(_request("r-1", "p-1", bonus="USD-10"))
    assert _refusal() == Reason.PEP_REJECTED


def test_it_grants_nothing_more_when_processed_again(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1")
    assignment = _accept_and_process(_request("r-1", "p-1"))
    services.assignment_process(assignment_id=assignment.pk)
    assert PlayerBonus.objects.count() == 1
    assert len(_outbox("bonus_granted")) == 1


# --- accept, sweep, prune -------------------------------------------------------------------


def test_it_schedules_the_grant_on_commit(make_bonus, django_capture_on_commit_callbacks) -> None:
    make_bonus()
    with django_capture_on_commit_callbacks() as callbacks:
        services.assignment_accept(client_key="pep", request=_request(), body={"a": 1})
    assert len(callbacks) == 1


def test_it_raises_invalid_and_records_an_unknown_bonus(make_bonus) -> None:
    with pytest.raises(services.AssignmentInvalid) as exc:
        services.assignment_accept(client_key="pep", request=_request(), body={"a": 1})
    assert list(exc.value.errors) == ["bonusId"]
    assert RejectedAssignment.objects.get().request_id == "r-1"
    assert not BonusAssignment.objects.exists()


def test_it_refuses_a_currency_other_than_the_bonus_currency(make_bonus) -> None:
    make_bonus()
    with pytest.raises(services.AssignmentInvalid) as exc:
        services.assignment_accept(
            client_key="pep", request=_request(currency="USD"), body={"a": 1}
        )
    assert list(exc.value.errors) == ["currency"]


def test_it_keys_idempotency_on_the_sender_not_the_credential(make_bonus) -> None:
    make_bonus()
    first = services.assignment_accept(client_key="oauth:a", request=_request(), body={"a": 1})
    again = services.assignment_accept(client_key="apikey:b", request=_request(), body={"a": 1})
    other = services.assignment_accept(
        client_key="apikey:c", sender="pep-staging", request=_request(), body={"a": 1}
    )
    assert (first.created, again.created, other.created) == (True, False, True)
    assert again.assignment.pk == first.assignment.pk
    assert first.assignment.client_key == "oauth:a"  # who sent it first, for staff
    assert BonusAssignment.objects.count() == 2


def test_a_grant_pass_processes_every_accepted_request(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1")
    for n in range(3):
        services.assignment_accept(client_key="pep", request=_request(f"r-{n}"), body={"n": n})
    assert services.assignment_process_pending(idle_for=0) == 3
    assert set(BonusAssignment.objects.values_list("status", flat=True)) == {"processed"}
    assert PlayerBonus.objects.count() == 3


def test_a_grant_pass_skips_a_failing_request_and_goes_on(
    make_bonus, make_player, monkeypatch
) -> None:
    make_bonus()
    make_player("p-1")
    bad = services.assignment_accept(client_key="pep", request=_request("r-bad"), body={})
    services.assignment_accept(client_key="pep", request=_request("r-good"), body={})
    real = services.assignment_process

    def flaky(*, assignment_id: int) -> BonusAssignment:
        if assignment_id == bad.assignment.pk:
            raise RuntimeError("boom")
        return real(assignment_id=assignment_id)

    monkeypatch.setattr(grants, "assignment_process", flaky)
    services.assignment_process_pending(idle_for=0)
    statuses = dict(BonusAssignment.objects.values_list("request_id", "status"))
    assert statuses == {"r-bad": "accepted", "r-good": "processed"}


def test_the_sweep_processes_assignments_whose_task_was_lost(
    make_bonus, make_player, settings
) -> None:
    settings.BONUS_ASSIGNMENT_SWEEP_AFTER = 60
    make_bonus()
    make_player("p-1")
    old = services.assignment_accept(client_key="pep", request=_request("r-old"), body={})
    fresh = services.assignment_accept(client_key="pep", request=_request("r-new"), body={})
    BonusAssignment.objects.filter(pk=old.assignment.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    assert services.assignment_sweep() == 1
    statuses = dict(BonusAssignment.objects.values_list("request_id", "status"))
    assert statuses == {"r-old": "processed", "r-new": "accepted"}
    assert fresh.assignment.pk != old.assignment.pk


def test_the_prune_forgets_processed_requests_after_the_retention_period(
    make_bonus, make_player, settings
) -> None:
    settings.BONUS_ASSIGNMENT_RETENTION_DAYS = 30
    make_bonus()
    make_player("p-1")
    _accept_and_process(_request("r-old", "p-1"))
    _accept_and_process(_request("r-new", "p-1"))
    services.assignment_reject(client_key="pep", body={"requestId": "bad"}, errors={"x": ["y"]})
    long_ago = timezone.now() - timedelta(days=31)
    BonusAssignment.objects.filter(request_id="r-old").update(received_at=long_ago)
    RejectedAssignment.objects.update(last_seen_at=long_ago)

    services.assignment_prune()

    assert list(BonusAssignment.objects.values_list("request_id", flat=True)) == ["r-new"]
    assert not RejectedAssignment.objects.exists()
    assert PlayerBonus.objects.count() == 2  # the grants themselves stay


def test_the_prune_keeps_requests_not_yet_processed(make_bonus, settings) -> None:
    make_bonus()
    services.assignment_accept(client_key="pep", request=_request(), body={})
    BonusAssignment.objects.update(received_at=timezone.now() - timedelta(days=90))
    services.assignment_prune()
    assert BonusAssignment.objects.count() == 1


def test_the_sweep_prune_and_expiry_are_scheduled_by_the_migrations() -> None:
    from django_q.models import Schedule

    funcs = set(Schedule.objects.filter(name__startswith="bonuses:").values_list("func", flat=True))
    assert funcs == {
        "bonuses.tasks.assignment_sweep_task",
        "bonuses.tasks.assignment_prune_task",
        "bonuses.tasks.player_bonus_expire_task",
    }


def test_it_moves_a_player_bonus_along_its_lifecycle(make_bonus, make_player) -> None:
    grant = PlayerBonus.objects.create(player=make_player("p-1"), bonus=make_bonus())
    grant = services.player_bonus_transition(player_bonus=grant, status="active")
    grant = services.player_bonus_transition(player_bonus=grant, status="wagered")
    assert services.player_bonus_transition(player_bonus=grant, status="completed").status == (
        "completed"
    )
    with pytest.raises(ValueError, match="cannot become"):
        services.player_bonus_transition(player_bonus=grant, status="active")


def test_it_refuses_a_transition_from_a_stale_status(make_bonus, make_player) -> None:
    grant = PlayerBonus.objects.create(player=make_player("p-1"), bonus=make_bonus())
    PlayerBonus.objects.update(status="cancelled")  # someone else got there first
    with pytest.raises(ValueError, match="meanwhile"):
        services.player_bonus_transition(player_bonus=grant, status="active")
