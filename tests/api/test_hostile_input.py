"""Hostile JSON and odd values get a 400 in the error shape and change nothing (issue 11).

Each body below answered 500 before the shared parser refused it: PEP retries a 500 five times
and the request was never recorded. Refused bodies are recorded (a RejectedAssignment, a
`rejected` reconciliation request) but nothing is accepted, granted or queued for PEP.
"""

from __future__ import annotations

import io

import jwt
import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from bonuses.models import Bonus, BonusAssignment, RejectedAssignment
from events.models import OutboxMessage
from pepbridge.api.parsers import MAX_DEPTH, BadJSON, JSONParser, parse_json
from players.models import Player
from reconciliation.models import ReconciliationRequest

pytestmark = pytest.mark.django_db

ASSIGN = "/api/bonus/v1/assign-bonus"
RECONCILE = "/api/reconciliation/v1/players"
FEEDBACK = "/api/players/v1/migration/feedback"
_ASSIGN_BODY = '{"requestId":"r-1","eventDate":"2026-01-01T00:00:00Z","playerId":"p-1",'
_RECONCILE_BODY = (
    '{"requestId":"r-1","eventDate":"2026-01-01T00:00:00Z",'
    '"players":[{"playerId":"p-1","missingFields":["email"]}],'
)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HOSTILE = {
    "overflow to infinity": '"x":1e400',
    "amount overflow": '"amount":1e400',
    "metadata overflow": '"metadata":{"a":-1e400}',
    "integer past 64 bits": '"x":' + "9" * 30,
    "lone surrogate in a value": '"metadata":{"a":"\\ud800"}',
    "lone surrogate in a key": '"metadata":{"\\udfff":1}',
    "NUL in a value": '"metadata":{"a":"x\\u0000y"}',
    "NUL in a key": '"x\\u0000":1',
    "metadata 920 deep": '"metadata":' + _nested(920),
    "940 deep": '"x":' + _nested(940),
    "65 deep": '"x":' + _nested(MAX_DEPTH + 1),
}


@pytest.fixture(autouse=True)
def _bridge_urls(settings) -> None:
    settings.ROOT_URLCONF = "pepbridge.urls"


@pytest.fixture
def pep(make_key) -> Client:
    Bonus.objects.create(bonus_id="CASH10", name="Cash 10", bonus_type="cash", amount=10)
    return Client(headers={"x-api-key": make_key("pep")})


def _assert_refused(response, phrase: str = "The body is") -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["statusCode"] == 400
    assert body["error"] == "Bad Request"
    assert body["message"].startswith(phrase)


@pytest.mark.parametrize("extra", HOSTILE.values(), ids=HOSTILE.keys())
def test_assign_bonus_refuses_hostile_json_and_records_it(pep, extra):
    body = _ASSIGN_BODY + extra + ',"bonusId":"CASH10"}'
    _assert_refused(pep.post(ASSIGN, body, content_type="application/json"))
    assert not BonusAssignment.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert RejectedAssignment.objects.count() == 1


def test_assign_bonus_refuses_a_lone_surrogate_request_id(pep):
    body = _ASSIGN_BODY.replace('"r-1"', '"\\ud800"') + '"bonusId":"CASH10"}'
    _assert_refused(pep.post(ASSIGN, body, content_type="application/json"))
    assert not BonusAssignment.objects.exists()


@pytest.mark.parametrize("extra", HOSTILE.values(), ids=HOSTILE.keys())
def test_reconciliation_refuses_hostile_json_and_records_it(pep, extra):
    body = _RECONCILE_BODY + extra + "}"
    _assert_refused(pep.post(RECONCILE, body, content_type="application/json"))
    outcomes = list(ReconciliationRequest.objects.values_list("outcome", flat=True))
    assert outcomes == [ReconciliationRequest.Outcome.REJECTED]


@pytest.mark.parametrize("extra", HOSTILE.values(), ids=HOSTILE.keys())
def test_migration_feedback_refuses_hostile_json(pep, extra):
    body = '{"migrationTasksId":"m-1","errorsTotal":0,' + extra + "}"
    _assert_refused(pep.post(FEEDBACK, body, content_type="application/json"))
    outcomes = list(ReconciliationRequest.objects.values_list("outcome", flat=True))
    assert outcomes == [ReconciliationRequest.Outcome.REJECTED]


@pytest.mark.parametrize("extra", HOSTILE.values(), ids=HOSTILE.keys())
def test_ingestion_refuses_hostile_json(make_key, extra):
    ingest = Client(headers={"x-api-key": make_key("ingest")})
    body = '{"playerId":"p-1","country":"DE",' + extra + "}"
    _assert_refused(ingest.post("/ingest/v1/players", body, content_type="application/json"))
    assert not Player.objects.exists()


def test_ingestion_refuses_a_lone_surrogate_in_an_event(make_key):
    ingest = Client(headers={"x-api-key": make_key("ingest")})
    body = '{"type":"crm_trigger","playerId":"p-1","payload":{"note":"\\ud83d"}}'
    _assert_refused(ingest.post("/ingest/v1/events", body, content_type="application/json"))
    assert not OutboxMessage.objects.exists()


def test_the_token_endpoint_answers_400_for_json_100000_levels_deep():
    deep = "[" * 100_000 + "]" * 100_000
    response = Client().post("/oauth/token", deep, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400


def test_the_token_endpoint_answers_400_for_a_nul_in_json():
    body = '{"client_id":"a\\u0000","client_secret":"b"}'
    response = Client().post("/oauth/token", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1e400", "out of range"),
        ("[-1e400]", "out of range"),
        ("Infinity", "is not a number JSON allows"),
        ("NaN", "is not a number JSON allows"),
        ("-" + "9" * 20, "beyond 64 bits"),
        ('"\\ud800"', "lone surrogate"),
        ('{"\\udc00": 1}', "lone surrogate"),
        ('["\\u0000"]', "NUL"),
        (_nested(MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
    ],
)
def test_parse_json_refuses_values_nothing_downstream_can_hold(text, why):
    with pytest.raises(BadJSON, match=why):
        parse_json(text)


def test_parse_json_keeps_what_the_contracts_use():
    text = '{"a": [1.5, -2, 9223372036854775807, "\\ud83d\\ude00", "tab\\t"], "b": null}'
    assert parse_json(text) == {
        "a": [1.5, -2, 2**63 - 1, "\N{GRINNING FACE}", "tab\t"],
        "b": None,
    }
    assert parse_json(_nested(MAX_DEPTH))["a"]


def test_parse_json_counts_brackets_inside_strings_as_text():
    assert parse_json('["' + "[" * 500 + '"]') == ["[" * 500]


def test_the_parser_reports_the_reason_as_a_parse_error():
    with pytest.raises(Exception, match=r"^The body is not usable: a string holds NUL"):
        JSONParser().parse(io.BytesIO(b'{"a": "\\u0000"}'))


def test_the_bonus_list_answers_400_for_a_page_past_any_sql_offset(pep):
    response = pep.get("/api/bonus/v1/bonuses?page=144115188075855873")
    assert response.status_code == 400
    assert "page" in response.json()["errors"]


# --- odd values past the parser: each answered 500 before its fix ------------------------------


@pytest.fixture
def ingest(make_key) -> Client:
    Player.objects.create(player_id="p-1")
    return Client(headers={"x-api-key": make_key("ingest")})


def _patch(client: Client, body: str):
    return client.patch("/ingest/v1/players/p-1", body, content_type="application/json")


@pytest.mark.parametrize("missing", ["channel", "granted", "changedAt"])
def test_ingestion_patch_names_a_consent_field_that_is_missing(ingest, missing):
    consent = {"channel": "email", "granted": True, "changedAt": "2026-01-01T00:00:00Z"}
    del consent[missing]
    response = ingest.patch(
        "/ingest/v1/players/p-1", {"marketingConsents": [consent]}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert missing in str(response.json()["errors"])
    assert not Player.objects.get().consents.exists()


@pytest.mark.parametrize(
    "body",
    [
        '{"birthDate": "0999-12-31"}',
        '{"registrationDate": "0999-12-31T00:00:00Z"}',
        '{"marketingConsents": [{"channel": "email", "granted": true,'
        ' "changedAt": "0999-12-31T00:00:00Z"}]}',
    ],
)
def test_ingestion_refuses_a_date_before_year_1000(ingest, body):
    response = _patch(ingest, body)
    assert response.status_code == 400, response.content
    assert not OutboxMessage.objects.exists()


def test_an_identity_token_expiring_past_any_calendar_is_refused_like_any_bad_token(
    make_key, settings
):
    settings.PLAYER_IDENTITY_SECRET = "s" * 48
    token = jwt.encode({"sub": "p-1", "exp": 10**12}, "s" * 48, algorithm="HS256")
    pep = Client(headers={"x-api-key": make_key("pep")})
    response = pep.post(
        "/api/auth/v1/player", {"identityToken": token}, content_type="application/json"
    )
    assert response.status_code == 401


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=9999-12-31T23:59:59Z"])
def test_the_audit_export_runs_to_the_end_of_the_calendar(client, query):
    officer = User.objects.create_user("officer", is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="export_audit"))
    client.force_login(officer)
    response = client.get(f"/admin/reconciliation/auditstep/export/?{query}")
    assert response.status_code == 200
    assert len(b"".join(response.streaming_content).splitlines()) == 1  # the header, no rows


def test_a_crm_trigger_payload_may_hold_a_fractional_number(ingest):
    body = (
        '{"type": "crm_trigger", "eventName": "vip_score", "playerId": "p-1",'
        ' "date": "2026-01-01T00:00:00Z", "payload": {"score": 1.5, "tier": 2}}'
    )
    response = ingest.post("/ingest/v1/events", body, content_type="application/json")
    assert response.status_code == 202, response.content
    assert '{"key":"score","type":"number","value":1.5}' in OutboxMessage.objects.get().body


@pytest.mark.parametrize("encoding", ["chunked", "gzip, chunked", "Chunked"])
def test_a_chunked_body_is_refused_with_411_and_nothing_recorded(pep, encoding):
    """Django reads a chunked body as empty: it was recorded as a bogus "requestId required"."""
    body = _ASSIGN_BODY + '"bonusId":"CASH10"}'
    response = pep.post(
        ASSIGN, body, content_type="application/json", headers={"transfer-encoding": encoding}
    )
    assert response.status_code == 411
    assert response.json()["statusCode"] == 411
    assert "Content-Length" in response.json()["message"]
    assert not RejectedAssignment.objects.exists()
    assert not BonusAssignment.objects.exists()


# --- what the schema says is what the code does (found by .ci/fuzz) ---------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (RECONCILE, {"requestId": 0, "eventDate": "2026-01-01T00:00:00Z"}, "requestId"),
        (FEEDBACK, {"migrationTasksId": 0, "errorsTotal": 0}, "migrationTasksId"),
        (ASSIGN, {"requestId": True, "eventDate": "2026-01-01T00:00:00Z"}, "requestId"),
        ("/api/auth/v1/player", {"identityToken": 12345}, "identityToken"),
    ],
)
def test_a_number_where_the_schema_says_string_is_refused(pep, path, body, field):
    response = pep.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][field] == ["Must be a string."]


@pytest.mark.parametrize("query", ["type=", "page=", "limit=", "currency="])
def test_the_bonus_list_refuses_an_empty_filter_the_schema_does_not_allow(pep, query):
    response = pep.get(f"/api/bonus/v1/bonuses?{query}")
    assert response.status_code == 400, response.content
    assert query.rstrip("=") in response.json()["errors"]


def test_the_schema_states_the_rules_the_code_holds(client):
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert schemas["PlayerIdentityRequest"]["properties"]["identityToken"]["minLength"] == 1
    assert schemas["ReconciliationPlayersRequest"]["properties"]["players"]["minItems"] == 1
    assert schemas["BatchInput"]["properties"]["events"]["minItems"] == 1
    branches = schemas["PlayersMigrationFeedback"]["oneOf"]
    assert branches[1]["required"] == ["detailsURL"]


def test_the_schema_examples_name_the_demo_bonus_and_player(pep):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assign = schema["paths"][ASSIGN]["post"]["requestBody"]["content"]["application/json"]
    example = assign["examples"]["OnePlayer"]["value"]
    assert (example["bonusOfferId"], example["playerId"]) == ("CASH10", "demo-1001")


def test_every_operation_with_a_body_documents_411_and_413():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    with_body = [
        (path, operation)
        for path, operations in paths.items()
        for operation in operations.values()
        if "requestBody" in operation and not path.startswith("/oauth/")
    ]
    assert len(with_body) >= 8
    for path, operation in with_body:
        assert {"411", "413"} <= set(operation["responses"]), path


def test_the_schema_says_assign_bonus_needs_one_player_key_and_a_bonus_key():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    rules = schema["components"]["schemas"]["AssignBonusInput"]["allOf"]
    assert rules[0]["oneOf"] == [{"required": ["playerId"]}, {"required": ["playerIds"]}]
    assert rules[1]["anyOf"] == [{"required": ["bonusId"]}, {"required": ["bonusOfferId"]}]


@pytest.mark.parametrize("path", [ASSIGN, RECONCILE, FEEDBACK])
def test_a_raw_nul_byte_in_a_body_is_refused_and_recorded_without_it(pep, path):
    """Invalid JSON is kept for staff as text: PostgreSQL refuses a NUL in text and jsonb."""
    response = pep.post(path, b'{"requestId": "r-\x00"}', content_type="application/json")
    _assert_refused(response)
    kept = [*RejectedAssignment.objects.values_list("body", flat=True)]
    kept += [r.payload for r in ReconciliationRequest.objects.all()]
    assert len(kept) == 1
    assert "\x00" not in str(kept[0])
    assert "r-\N{REPLACEMENT CHARACTER}" in str(kept[0])


# --- NUL outside JSON: PostgreSQL refuses it in any lookup (each was a 500 there) --------------


@pytest.mark.parametrize(
    ("scope", "url", "headers"),
    [
        ("ingest", "/ingest/v1/players/a%00b", {}),
        ("pep", "/api/bonus/v1/bonuses?search=a%00b", {}),
        ("pep", "/api/bonus/v1/bonuses?a%00=1", {}),
        ("pep", "/api/bonus/v1/bonuses", {"x-request-note": "a\x00b"}),
    ],
)
def test_a_nul_in_the_path_query_or_a_header_is_400(make_key, scope, url, headers):
    client = Client(headers={"x-api-key": make_key(scope), **headers})
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["message"] == "The path, query string or a header holds a NUL character."


def test_an_api_key_holding_a_nul_is_refused_before_any_lookup():
    response = Client(headers={"x-api-key": "pbk_a\x00b_c"}).get("/api/bonus/v1/bonuses")
    assert response.status_code == 400


def test_the_token_endpoint_refuses_a_nul_in_its_form():
    form = {"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"}
    response = Client().post("/oauth/token", form)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (ASSIGN, _ASSIGN_BODY + '"bonusId":"CASH10"}'),
        (RECONCILE, _RECONCILE_BODY.rstrip(",") + "}"),
    ],
)
def test_an_operator_api_event_date_before_year_1000_is_refused(pep, path, body):
    """Stored, it could never be sent: PEP's timestamps have four-digit years."""
    body = body.replace("2026-01-01T00:00:00Z", "0999-12-31T00:00:00Z")
    response = pep.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["eventDate"] == ["Must be in year 1000 or later."]


def test_the_schema_lets_a_batch_hold_items_it_rejects_one_by_one(make_key):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    items = schema["components"]["schemas"]["BatchInput"]["properties"]["events"]["items"]
    assert items["anyOf"][0] == {"$ref": "#/components/schemas/IngestEvent"}
    ingest = Client(headers={"x-api-key": make_key("ingest")})
    body = '{"events": [{"type": "login", "playerId": 7}, "not an event"]}'
    response = ingest.post("/ingest/v1/events/batch", body, content_type="application/json")
    assert response.status_code == 202
    assert response.json()["rejected"] == 2


@pytest.mark.parametrize("url", ["/ingest/v1/events", "/ingest/v1/events/batch"])
def test_an_event_whose_player_id_is_an_object_is_refused_not_a_500(make_key, url):
    """Found by .ci/fuzz (seed 3): the batch's player lookup put the object in a set."""
    ingest = Client(headers={"x-api-key": make_key("ingest")})
    event = '{"type": "login", "playerId": {"a": 1}, "date": "2026-01-01T00:00:00Z"}'
    body = event if url.endswith("events") else '{"events": [' + event + "]}"
    response = ingest.post(url, body, content_type="application/json")
    assert response.status_code in (400, 202), response.content
    results = response.json().get("results") or [response.json()]
    assert "playerId" in str(results[0]["errors"])


@pytest.mark.parametrize("body", ["null", "[]", "1", '"x"', "true", "{}"])
@pytest.mark.parametrize("path", [ASSIGN, RECONCILE, FEEDBACK, "/api/auth/v1/player"])
def test_a_json_body_that_is_not_an_object_is_400(pep, path, body):
    """`null` made assign-bonus record a NULL body: an IntegrityError, a 500."""
    response = pep.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["statusCode"] == 400


def test_parse_json_finds_a_raw_surrogate_in_text_decoded_elsewhere():
    """The fast path looks for escapes; a caller's str may hold the character itself."""
    with pytest.raises(BadJSON, match="lone surrogate"):
        parse_json('["\ud800"]')


def test_parse_json_keeps_an_escaped_backslash_before_u0000():
    assert parse_json('["\\\\u0000"]') == ["\\u0000"]
