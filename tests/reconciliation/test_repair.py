"""The repair: values the bridge holds go out, the rest wait for the operator, PEP's acceptance
closes the item, and every step lands in the trail without the values themselves."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from events.models import OutboxMessage
from players.models import Player
from players.services import player_create, player_erase, player_update
from reconciliation import repair, services
from reconciliation.models import AuditStep, ReconciliationRequest, RepairState
from tests.players.api_helpers import client_with_scope
from tests.reconciliation.conftest import make_player, status_of, steps_of

pytestmark = pytest.mark.django_db


def receive(request_id: str = "r-1", **players: list[str]) -> ReconciliationRequest:
    receipt = services.reconciliation_receive(
        request_id=request_id,
        event_date=timezone.now(),
        players=[{"player_id": pid, "fields": names} for pid, names in players.items()],
        payload={"requestId": request_id},
        cause="pep:test",
    )
    services.repair_request(receipt.request.pk, cause="task:test")
    return receipt.request


def outbox_of(player_id: str) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(player_id=player_id, message_type="player_update").order_by(
            "pk"
        )
    )


def deliver(*rows: OutboxMessage, status: str = "delivered") -> None:
    OutboxMessage.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=status, delivered_at=timezone.now(), last_error_class="http_400"
    )


def test_a_held_value_goes_to_pep_as_a_profile_update_through_the_outbox() -> None:
    make_player("p-1", first_name="Anna", country="CH")
    before = len(outbox_of("p-1"))
    receive(**{"p-1": ["firstName", "country"]})
    row = outbox_of("p-1")[before]
    assert (row.method, row.path) == ("PATCH", "/api/players-data/v1/players/p-1")
    assert json.loads(row.body) == {"firstName": "Anna", "country": "CH"}
    assert steps_of("p-1", "firstName") == ["received", "value_sent"]
    assert AuditStep.objects.get(kind="value_sent", field="country").outbox_message_id == row.pk


def test_the_item_is_repaired_only_once_pep_has_accepted_the_update() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    services.reconciliation_recheck()
    assert status_of("p-1", "firstName") == "sent"  # still pending in the outbox
    deliver(*outbox_of("p-1"))
    report = services.reconciliation_recheck()
    assert report.confirmed == 1
    assert status_of("p-1", "firstName") == "repaired"
    assert steps_of("p-1") == ["received", "value_sent", "pep_accepted", "resolved"]
    services.reconciliation_recheck()
    assert len(steps_of("p-1")) == 4  # nothing more to say


def test_a_dead_lettered_update_marks_the_item_failed() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    deliver(*outbox_of("p-1"), status="failed")
    services.reconciliation_recheck()
    assert status_of("p-1", "firstName") == "failed"
    step = AuditStep.objects.get(kind="failed")
    assert step.detail == "PEP did not take the update (http_400)"


def test_a_missing_value_waits_and_goes_out_when_the_operator_supplies_it() -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email"]})
    assert status_of("p-1", "email") == "waiting_for_operator"
    before = len(outbox_of("p-1"))
    player_update(player_id="p-1", data={"email": "anna@example.com"})
    assert status_of("p-1", "email") == "sent"
    ours = outbox_of("p-1")[-1]
    assert len(outbox_of("p-1")) == before + 2  # the operator's own update, then the repair
    assert json.loads(ours.body) == {"email": "anna@example.com"}
    step = AuditStep.objects.get(kind="value_sent")
    assert (step.cause, step.outbox_message_id) == ("operator:player_changed", ours.pk)
    assert steps_of("p-1") == ["received", "waiting_for_operator", "value_sent"]


def test_waiting_items_get_no_new_step_while_nothing_changes() -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email"]})
    services.reconciliation_recheck()
    services.reconciliation_recheck()
    assert steps_of("p-1") == ["received", "waiting_for_operator"]


def test_the_recheck_sends_a_value_that_arrived_without_the_hook() -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email"]})
    Player.objects.filter(player_id="p-1").update(email="anna@example.com")  # e.g. SQL
    services.reconciliation_recheck()
    assert status_of("p-1", "email") == "sent"
    assert AuditStep.objects.get(kind="value_sent").cause == services.RECHECK_CAUSE


def test_an_unknown_player_is_repaired_when_the_operator_registers_them() -> None:
    receive(**{"p-7": ["firstName"]})
    assert status_of("p-7", "firstName") == "unknown_player"
    make_player("p-7", first_name="Zoe")
    assert status_of("p-7", "firstName") == "sent"
    assert json.loads(outbox_of("p-7")[-1].body) == {"firstName": "Zoe"}
    assert steps_of("p-7") == ["received", "unknown_player", "value_sent"]


def test_a_field_the_bridge_does_not_know_fails_with_a_reason() -> None:
    make_player("p-1")
    receive(**{"p-1": ["shoeSize"]})
    assert status_of("p-1", "shoeSize") == "failed"
    assert AuditStep.objects.get(kind="failed").detail == "not a profile field the bridge knows"


def test_an_erased_player_fails_instead_of_waiting_forever() -> None:
    make_player("p-1")
    player_erase(player_id="p-1")
    receive(**{"p-1": ["firstName"]})
    assert status_of("p-1", "firstName") == "failed"


def test_the_trail_never_holds_a_value_sent_to_pep() -> None:
    make_player("p-1", first_name="Wilhelmina", email="w@example.com")
    receive(**{"p-1": ["firstName", "email"]})
    deliver(*outbox_of("p-1"))
    services.reconciliation_recheck()
    trail = json.dumps(
        [
            list(AuditStep.objects.values()),
            list(ReconciliationRequest.objects.values("payload", "errors", "cause")),
        ],
        default=str,
    )
    assert "Wilhelmina" not in trail and "w@example.com" not in trail


def test_a_failing_repair_never_undoes_the_operators_change(monkeypatch) -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email"]})

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(repair, "repair_player", broken)
    player_update(player_id="p-1", data={"email": "anna@example.com"})
    assert Player.objects.get(player_id="p-1").email == "anna@example.com"
    assert status_of("p-1", "email") == "waiting_for_operator"


def test_the_same_field_reported_twice_goes_out_once_per_repair() -> None:
    make_player("p-1")
    receive("r-1", **{"p-1": ["firstName"]})
    receive("r-2", **{"p-1": ["firstName"]})
    assert RepairState.objects.filter(status="sent").count() == 2


# --- staff re-sync -------------------------------------------------------------------------------


def test_a_staff_resync_reopens_failed_items_and_names_the_staff_member() -> None:
    make_player("p-1")
    make_player("p-2")
    receive(**{"p-1": ["firstName"], "p-2": ["firstName"]})
    deliver(*outbox_of("p-1"), *outbox_of("p-2"), status="failed")
    services.reconciliation_recheck()
    report = services.resync_players(player_ids=["p-1"], actor="alice")
    assert (report.players, report.repair.sent) == (1, 1)
    assert status_of("p-1", "firstName") == "sent"
    assert status_of("p-2", "firstName") == "failed"
    assert report.request.source == "staff_resync"
    assert report.request.cause == "staff:alice"
    assert report.request.payload["player_ids"] == ["p-1"]
    last = AuditStep.objects.filter(player_id="p-1").order_by("-id").first()
    assert (last.kind, last.cause) == ("value_sent", f"staff:alice (re-sync #{report.request.pk})")


def test_a_resync_filters_by_status_and_period() -> None:
    make_player("p-1", email="")
    make_player("p-2")
    receive(**{"p-1": ["email"], "p-2": ["firstName"]})
    later = timezone.now() + timedelta(hours=1)
    assert services.resync_players(created_after=later, actor="bob").players == 0
    report = services.resync_players(statuses=["waiting_for_operator"], actor="bob")
    assert report.players == 1 and report.repair.waiting == 1


def test_the_resync_command_calls_the_service() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    out = StringIO()
    call_command("reconciliation_resync", "--actor", "carol", "--player", "p-1", stdout=out)
    assert "1 players, 1 sent" in out.getvalue()
    assert ReconciliationRequest.objects.filter(cause="staff:carol").exists()


def test_a_player_registered_with_the_field_later_is_covered_by_the_create_hook() -> None:
    receive(**{"p-9": ["country"]})
    player_create(data={"player_id": "p-9", "country": "DE"})
    assert status_of("p-9", "country") == "sent"


def test_deliveries_are_confirmed_in_batches_until_none_is_left() -> None:
    for pid in ("p-1", "p-2", "p-3"):
        make_player(pid)
        receive(f"r-{pid}", **{pid: ["firstName"]})
    deliver(*outbox_of("p-1"), *outbox_of("p-2"), *outbox_of("p-3"))
    assert repair.confirm_deliveries(cause="task:test", batch_size=1) == 3
    assert RepairState.objects.filter(status="repaired").count() == 3


# --- every state change closes or leaves a step ------------------------------------------------


def test_an_update_cancelled_because_the_player_was_erased_fails_the_item() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    player_erase(player_id="p-1")  # cancels the queued update
    assert outbox_of("p-1")[-1].status == "cancelled"
    services.reconciliation_recheck()
    state = RepairState.objects.get(player_id="p-1", field="firstName")
    assert (state.status, state.reason) == ("failed", "message_cancelled")
    step = AuditStep.objects.get(player_id="p-1", kind="failed")
    assert step.detail == "the player was erased; the update was cancelled before it reached PEP"
    assert (step.cause, step.outbox_message_id) == (services.RECHECK_CAUSE, state.outbox_message_id)


def test_pep_accepted_is_dated_when_pep_took_the_update_not_when_the_check_ran() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    accepted_at = timezone.now() + timedelta(seconds=1)
    checked_at = accepted_at + timedelta(minutes=5)
    deliver(*outbox_of("p-1"))
    OutboxMessage.objects.filter(player_id="p-1").update(delivered_at=accepted_at)
    with mock.patch("django.utils.timezone.now", return_value=checked_at):
        services.reconciliation_recheck()
    assert AuditStep.objects.get(kind="pep_accepted").at == accepted_at
    assert AuditStep.objects.get(kind="resolved").at == checked_at  # when the bridge recorded it
    assert steps_of("p-1") == ["received", "value_sent", "pep_accepted", "resolved"]


def test_a_sent_item_whose_message_is_gone_is_reopened_with_a_step() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    (row,) = outbox_of("p-1")[-1:]
    OutboxMessage.objects.filter(pk=row.pk).delete()
    assert repair.confirm_deliveries(cause="task:test") == 1
    state = RepairState.objects.get(player_id="p-1")
    assert (state.status, state.reason) == ("new", "message_gone")
    step = AuditStep.objects.get(kind="reopened")
    assert step.cause == "task:test"
    assert step.detail == f"outbound message {row.pk} is gone; the value will be sent again"
    services.reconciliation_recheck()
    assert steps_of("p-1") == ["received", "value_sent", "reopened", "value_sent"]


def test_a_staff_resync_records_the_reopening_of_each_item_it_resets() -> None:
    make_player("p-1")
    receive(**{"p-1": ["firstName"]})
    deliver(*outbox_of("p-1"), status="failed")
    services.reconciliation_recheck()
    report = services.resync_players(player_ids=["p-1"], actor="alice")
    reopened = AuditStep.objects.get(kind="reopened")
    assert reopened.cause == f"staff:alice (re-sync #{report.request.pk})"
    assert reopened.detail == f"re-opened by staff re-sync #{report.request.pk}"
    assert steps_of("p-1") == ["received", "value_sent", "failed", "reopened", "value_sent"]


def test_a_resync_of_items_already_new_writes_no_reopened_step() -> None:
    receive(**{"p-7": ["firstName"]})
    RepairState.objects.update(status="new")
    services.resync_players(actor="alice")
    assert not AuditStep.objects.filter(kind="reopened").exists()


def test_each_status_keeps_the_reason_the_admin_filters_on() -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email", "shoeSize", "firstName"], "p-404": ["email"]})
    reasons = dict(RepairState.objects.values_list("field", "reason").filter(player_id="p-1"))
    assert reasons == {"email": "no_value", "shoeSize": "unknown_field", "firstName": ""}
    assert RepairState.objects.get(player_id="p-404").reason == "no_such_player"


# --- the operator's way in -----------------------------------------------------------------------


def test_the_operator_hook_names_the_way_in_when_the_caller_gives_it() -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email"]})
    Player.objects.filter(player_id="p-1").update(email="anna@example.com")
    player = Player.objects.get(player_id="p-1")
    repair.on_player_changed(player, frozenset({"email"}), cause="ingest:crm-1")
    step = AuditStep.objects.get(kind="value_sent")
    assert step.cause == "operator:player_changed via ingest:crm-1"


def test_the_operator_cause_defaults_to_the_plain_text() -> None:
    assert repair.operator_cause() == "operator:player_changed"
    assert repair.operator_cause("loader:players.csv") == (
        "operator:player_changed via loader:players.csv"
    )


def test_the_trail_names_the_ingestion_client_whose_data_repaired_the_item() -> None:
    make_player("p-1", email="")
    receive(**{"p-1": ["email"]})
    api = client_with_scope("ingest")
    answer = api.patch(
        "/ingest/v1/players/p-1",
        data=json.dumps({"email": "anna@example.com"}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    step = AuditStep.objects.get(kind="value_sent")
    assert step.cause.startswith("operator:player_changed via api:oauth:")
