"""The events half of the ingestion API: one event, batches, limits, idempotency, error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from events.models import OutboxMessage
from players.models import Player
from tests.players.api_helpers import client_with_scope

pytestmark = pytest.mark.django_db
ONE = "/ingest/v1/events"
BATCH = "/ingest/v1/events/batch"


@pytest.fixture
def api():
    Player.objects.create(player_id="p-1")
    return client_with_scope("ingest")


def deposit(transaction_id: str = "d-1", **overrides: Any) -> dict[str, Any]:
    return {
        "type": "money_transaction",
        "playerId": "p-1",
        "transactionId": transaction_id,
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": 50.1,
        "currency": "EUR",
        "date": "2024-05-02T07:55:00Z",
        "realMoneyBalance": 100,
        "bonusMoneyBalance": 0,
        **overrides,
    }


def post(api, url: str, body: Any):
    return api.post(url, data=json.dumps(body), content_type="application/json")


def test_it_accepts_one_event_with_202(api):
    answer = post(api, ONE, deposit())
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"index": 0, "status": "accepted", "id": "d-1"}
    assert '"amount":50.1' in OutboxMessage.objects.get().body


def test_it_answers_200_duplicate_for_the_same_event_again(api):
    post(api, ONE, deposit())
    answer = post(api, ONE, deposit())
    assert answer.status_code == 200
    assert answer.json()["status"] == "duplicate"
    assert OutboxMessage.objects.count() == 1


def test_it_answers_409_for_the_same_id_with_another_body(api):
    post(api, ONE, deposit())
    answer = post(api, ONE, deposit(amount=60))
    assert answer.status_code == 409
    assert answer.json()["statusCode"] == 409


def test_it_answers_400_naming_the_fields(api):
    answer = post(api, ONE, deposit(currency="XXX", amount=-1))
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"currency", "amount"}


def test_it_answers_400_for_malformed_json(api):
    answer = api.post(ONE, data="{nope", content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["statusCode"] == 400


def test_it_answers_400_for_deeply_nested_json(api):
    nested = "[" * 100_000 + "]" * 100_000  # well under INGEST_MAX_BODY_BYTES
    for url in (ONE, BATCH):
        answer = api.post(url, data=nested, content_type="application/json")
        assert answer.status_code == 400
        assert answer.json() == {
            "statusCode": 400,
            "error": "Bad Request",
            "message": "The body is nested too deeply to be read.",
        }
    assert not OutboxMessage.objects.exists()


def test_it_answers_400_for_nan(api):
    answer = api.post(ONE, data='{"amount": NaN}', content_type="application/json")
    assert answer.status_code == 400


def test_it_answers_a_batch_with_a_result_per_item_and_keeps_the_valid_ones(api):
    events = [deposit("d-1"), deposit("d-2", date="soon"), deposit("d-1"), {"type": "nope"}]
    answer = post(api, BATCH, {"events": events})
    assert answer.status_code == 202
    body = answer.json()
    assert (body["accepted"], body["rejected"], body["duplicate"]) == (1, 2, 1)
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "duplicate",
        "rejected",
    ]
    assert body["results"][1]["errors"] == {"date": [body["results"][1]["errors"]["date"][0]]}
    assert body["results"][1]["index"] == 1
    assert OutboxMessage.objects.count() == 1


def test_it_reports_a_conflict_inside_a_batch(api):
    post(api, ONE, deposit())
    body = post(api, BATCH, {"events": [deposit(amount=7), deposit("d-9")]}).json()
    assert [r["status"] for r in body["results"]] == ["conflict", "accepted"]


def test_it_refuses_a_batch_of_1001_events(api):
    events = [deposit(f"d-{i}") for i in range(1001)]
    answer = post(api, BATCH, {"events": events})
    assert answer.status_code == 400
    assert "at most 1,000 events" in answer.json()["message"]
    assert OutboxMessage.objects.count() == 0


def test_it_accepts_a_batch_of_exactly_1000_events(api):
    answer = post(api, BATCH, {"events": [deposit(f"d-{i}") for i in range(1000)]})
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1000


def test_it_refuses_a_10_mb_batch_before_reading_it(api):
    body = json.dumps({"events": [deposit(), {"padding": "x" * (10 * 1024 * 1024)}]})
    answer = api.post(BATCH, data=body, content_type="application/json")
    assert answer.status_code == 413
    assert "limit is 5,242,880 bytes" in answer.json()["message"]


@pytest.mark.parametrize("body", [[], {"events": "x"}, {"events": []}, {}])
def test_it_refuses_a_batch_that_is_not_a_list_of_events(api, body):
    answer = post(api, BATCH, body)
    assert answer.status_code == 400
    assert answer.json()["statusCode"] == 400


def test_it_refuses_a_pep_credential():
    Player.objects.create(player_id="p-1")
    answer = post(client_with_scope("pep"), BATCH, {"events": [deposit()]})
    assert answer.status_code == 403
    assert OutboxMessage.objects.count() == 0


def test_the_schema_describes_the_ingestion_api(api, admin_client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in (
        "/ingest/v1/players",
        "/ingest/v1/players/{player_id}",
        "/ingest/v1/events",
        "/ingest/v1/events/batch",
    ):
        assert path in paths
    event = schema["components"]["schemas"]["IngestEvent"]
    assert event["discriminator"]["propertyName"] == "type"
    examples = paths["/ingest/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert "examples" in examples
