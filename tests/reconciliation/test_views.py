"""The two PEP endpoints: recorded as received, idempotent on requestId, bad input answered 400."""

from __future__ import annotations

from unittest import mock

import pytest
from rest_framework.test import APIClient

from pepbridge.api.models import Scope
from pepbridge.api.services import api_key_create
from reconciliation import services, tasks
from reconciliation.models import (
    AuditStep,
    FeedbackDownload,
    ReconciliationItem,
    ReconciliationRequest,
)
from tests.reconciliation.conftest import (
    FEEDBACK_URL,
    RECON_URL,
    make_player,
    recon_body,
    status_of,
    steps_of,
)

pytestmark = pytest.mark.django_db


def test_it_answers_202_and_records_the_request_its_items_and_its_cause(pep_client) -> None:
    body = recon_body("r-1", **{"p-1": ["email", "birthDate"], "p-2": ["country"]})
    with mock.patch("reconciliation.services.queue_task") as queue:
        answer = pep_client.post(RECON_URL, body, format="json")
    assert answer.status_code == 202
    assert answer.json() == {"requestId": "r-1", "status": "accepted"}
    request = ReconciliationRequest.objects.get()
    assert (request.source, request.request_id, request.outcome) == (
        "reconciliation_api",
        "r-1",
        "accepted",
    )
    assert request.payload == body
    assert request.cause == f"pep:{pep_client.label}"
    assert not ReconciliationItem.objects.exists()  # opened after the answer, by the task
    assert services.request_expand(request.pk) == 3
    items = ReconciliationItem.objects.order_by("pk").values_list("player_id", "field")
    assert list(items) == [("p-1", "email"), ("p-1", "birthDate"), ("p-2", "country")]
    assert steps_of("p-1") == ["received", "received"]
    assert status_of("p-2", "country") == "new"
    assert queue.call_count == 0  # only after commit


def test_it_queues_the_repair_after_commit(pep_client, django_capture_on_commit_callbacks) -> None:
    with (
        mock.patch("reconciliation.services.queue_task") as queue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        pep_client.post(RECON_URL, recon_body("r-1", **{"p-1": ["email"]}), format="json")
    request = ReconciliationRequest.objects.get()
    queue.assert_called_once_with("reconciliation.tasks.repair_request", request.pk)


def test_the_repair_task_sends_held_values_and_waits_for_the_rest(pep_client) -> None:
    make_player("p-1")
    pep_client.post(RECON_URL, recon_body("r-1", **{"p-1": ["firstName", "email"]}), format="json")
    tasks.repair_request(ReconciliationRequest.objects.get().pk)
    assert status_of("p-1", "firstName") == "sent"
    assert status_of("p-1", "email") == "waiting_for_operator"
    sent = AuditStep.objects.get(kind="value_sent")
    assert sent.cause.startswith("task:reconciliation.repair_request (pep:PEP production")


def test_it_answers_202_for_a_duplicate_request_id_and_opens_nothing_new(pep_client) -> None:
    body = recon_body("r-1", **{"p-1": ["email"]})
    pep_client.post(RECON_URL, body, format="json")
    answer = pep_client.post(RECON_URL, body, format="json")
    assert answer.status_code == 202
    assert answer.json()["status"] == "duplicate"
    for request in ReconciliationRequest.objects.all():
        services.request_expand(request.pk)
    assert ReconciliationItem.objects.count() == 1
    outcomes = ReconciliationRequest.objects.order_by("pk").values_list("outcome", flat=True)
    assert list(outcomes) == ["accepted", "duplicate"]


def test_it_answers_409_for_a_request_id_reused_with_another_body(pep_client) -> None:
    pep_client.post(RECON_URL, recon_body("r-1", **{"p-1": ["email"]}), format="json")
    answer = pep_client.post(RECON_URL, recon_body("r-1", **{"p-9": ["email"]}), format="json")
    assert answer.status_code == 409
    assert answer.json()["errors"] == {"requestId": ["already used with a different body"]}
    assert ReconciliationRequest.objects.filter(outcome="conflict").count() == 1
    assert not ReconciliationItem.objects.filter(player_id="p-9").exists()


def test_it_accepts_a_corrected_request_after_a_malformed_one_with_the_same_id(
    pep_client,
) -> None:
    bad = recon_body("r-1", **{"p-1": []})
    assert pep_client.post(RECON_URL, bad, format="json").status_code == 400
    good = recon_body("r-1", **{"p-1": ["email"]})
    assert pep_client.post(RECON_URL, good, format="json").status_code == 202


def test_it_answers_400_with_field_errors_and_records_the_malformed_request(pep_client) -> None:
    body = {"requestId": "r-1", "players": [{"playerId": "p-1", "missingFields": []}]}
    answer = pep_client.post(RECON_URL, body, format="json")
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert set(errors) == {"eventDate", "players"}
    request = ReconciliationRequest.objects.get()
    assert (request.outcome, request.request_id, request.payload) == ("rejected", "r-1", body)
    assert set(request.errors) == {"eventDate", "players"}
    step = AuditStep.objects.get()
    assert (step.kind, step.detail) == ("rejected", "invalid: eventDate, players")
    assert not ReconciliationItem.objects.exists()


def test_it_records_a_body_that_is_not_json(pep_client) -> None:
    answer = pep_client.post(RECON_URL, b"{not json", content_type="application/json")
    assert answer.status_code == 400
    request = ReconciliationRequest.objects.get()
    assert request.outcome == "rejected"
    assert request.payload == {"raw": "{not json"}


def test_it_refuses_more_players_than_configured(pep_client, settings) -> None:
    settings.RECONCILIATION_MAX_PLAYERS = 2
    body = recon_body("r-1", **{f"p-{i}": ["email"] for i in range(3)})
    answer = pep_client.post(RECON_URL, body, format="json")
    assert answer.status_code == 400
    assert "players" in answer.json()["errors"]


def test_it_refuses_a_caller_without_credentials() -> None:
    answer = APIClient().post(RECON_URL, recon_body("r-1", **{"p-1": ["email"]}), format="json")
    assert answer.status_code == 401
    assert not ReconciliationRequest.objects.exists()


def test_it_refuses_a_credential_without_the_pep_scope() -> None:
    issued = api_key_create(name="operator platform", scope=Scope.INGEST)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.api_key)
    answer = client.post(RECON_URL, recon_body("r-1", **{"p-1": ["email"]}), format="json")
    assert answer.status_code == 403


def test_an_unknown_player_is_an_item_marked_as_such_not_a_failed_request(pep_client) -> None:
    make_player("p-1")
    body = recon_body("r-1", **{"p-1": ["firstName"], "ghost": ["email"]})
    assert pep_client.post(RECON_URL, body, format="json").status_code == 202
    tasks.repair_request(ReconciliationRequest.objects.get().pk)
    assert steps_of("ghost") == ["received", "unknown_player"]
    assert status_of("ghost", "email") == "unknown_player"
    assert status_of("p-1", "firstName") == "sent"


# --- migration feedback ------------------------------------------------------------------------


def test_feedback_is_answered_204_and_queues_the_download_after_commit(
    pep_client, django_capture_on_commit_callbacks
) -> None:
    body = {
        "migrationTasksId": "t-1",
        "savedTotal": 19_998,
        "errorsTotal": 2,
        "detailsURL": "http://127.0.0.1:8766/_sandbox/files/t-1.json.gz",
    }
    with (
        mock.patch("reconciliation.services.queue_task") as queue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = pep_client.post(FEEDBACK_URL, body, format="json")
    assert answer.status_code == 204
    request = ReconciliationRequest.objects.get()
    assert (request.source, request.request_id, request.payload) == (
        "migration_feedback",
        "t-1",
        body,
    )
    download = FeedbackDownload.objects.get()
    assert (download.url, download.status) == (body["detailsURL"], "pending")
    queue.assert_called_once_with("reconciliation.tasks.fetch_feedback", download.pk)


def test_feedback_without_errors_downloads_nothing(pep_client) -> None:
    body = {"migrationTasksId": "t-1", "errorsTotal": 0}
    assert pep_client.post(FEEDBACK_URL, body, format="json").status_code == 204
    assert not FeedbackDownload.objects.exists()


def test_feedback_with_errors_but_no_details_url_is_400_and_recorded(pep_client) -> None:
    body = {"migrationTasksId": "t-1", "errorsTotal": 3}
    answer = pep_client.post(FEEDBACK_URL, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"detailsURL": ["Required when errorsTotal > 0."]}
    request = ReconciliationRequest.objects.get()
    assert (request.outcome, request.request_id) == ("rejected", "t-1")


def test_a_repeated_feedback_retries_a_failed_download_with_its_fresh_url(pep_client) -> None:
    first = {"migrationTasksId": "t-1", "errorsTotal": 1, "detailsURL": "https://pep.test/a.gz"}
    pep_client.post(FEEDBACK_URL, first, format="json")
    FeedbackDownload.objects.update(status="failed", attempts=10)
    again = {**first, "detailsURL": "https://pep.test/b.gz"}
    assert pep_client.post(FEEDBACK_URL, again, format="json").status_code == 204
    download = FeedbackDownload.objects.get()
    assert (download.url, download.status) == ("https://pep.test/b.gz", "pending")
    outcomes = ReconciliationRequest.objects.order_by("pk").values_list("outcome", flat=True)
    assert list(outcomes) == ["accepted", "duplicate"]
