"""The PEP sandbox over loopback: tokens, the contract, faults, recording, page and files."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from http.client import HTTPConnection
from typing import Any

import pytest
import requests

from pepbridge.pep import contract, wire
from pepbridge.sandbox import SandboxServer
from pepbridge.sandbox.examples import PATH_PARAMS, example

CLIENT_ID, CLIENT_SECRET = "bridge", "s3cret"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    server = SandboxServer(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lifetime=300, clock=clock
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _token(http: requests.Session, sandbox: SandboxServer) -> str:
    answer = http.post(
        sandbox.base_url + "/api/oauth/v1/token",
        json={"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
    )
    assert answer.status_code == 200
    return str(answer.json()["accessToken"])


def _send(
    http: requests.Session,
    sandbox: SandboxServer,
    message_type: str,
    payload: Any = None,
    token: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    item = contract.endpoint(message_type)
    path = contract.path_for(message_type, **PATH_PARAMS.get(message_type, {}))
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if payload is not None:
        kwargs["data"] = wire.dumps(payload)
    return http.request(item.method, sandbox.base_url + path, headers=headers, **kwargs)


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


# --- tokens -----------------------------------------------------------------------------------


def test_it_issues_a_jwt_that_expires_after_the_lifetime(
    sandbox: SandboxServer, http: requests.Session, clock: FakeClock
) -> None:
    answer = http.post(
        sandbox.base_url + "/api/oauth/v1/token",
        json={"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
    ).json()
    assert answer["expiresIn"] == 300
    assert answer["tokenType"] == "Bearer"
    assert _claims(answer["accessToken"])["exp"] == int(clock.now) + 300


def test_it_refuses_wrong_client_credentials_with_401(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    answer = http.post(
        sandbox.base_url + "/api/oauth/v1/token",
        json={"clientId": CLIENT_ID, "clientSecret": "guess"},
    )
    assert answer.status_code == 401


def test_it_answers_401_without_a_token_and_with_an_expired_one(
    sandbox: SandboxServer, http: requests.Session, clock: FakeClock
) -> None:
    assert _send(http, sandbox, "player_login", example("player_login")).status_code == 401
    token = _token(http, sandbox)
    assert _send(http, sandbox, "player_login", example("player_login"), token).status_code == 202
    clock.now += 301
    answer = _send(http, sandbox, "player_login", example("player_login"), token)
    assert answer.status_code == 401
    assert answer.json()["message"] == "token expired"


def test_it_refuses_a_token_it_did_not_sign(sandbox: SandboxServer, http: requests.Session) -> None:
    header, body, _ = _token(http, sandbox).split(".")
    forged = f"{header}.{body}.AAAA"
    assert _send(http, sandbox, "player_login", example("player_login"), forged).status_code == 401


# --- the contract -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message_type",
    [k for k in contract.MESSAGE_TYPES if k not in ("token", "players_migration_batch")],
)
def test_it_accepts_each_endpoint_with_peps_success_status(
    sandbox: SandboxServer, http: requests.Session, message_type: str
) -> None:
    token = _token(http, sandbox)
    answer = _send(http, sandbox, message_type, example(message_type), token)
    expected = contract.endpoint(message_type).success_status
    assert answer.status_code == expected
    assert answer.content == (b"" if expected == 204 else b"{}")


def test_it_answers_400_naming_each_invalid_field(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    payload = example("game_round")
    payload["gameTransactionRound"][0]["currency"] = "eur"
    del payload["gameTransactionRound"][1]["date"]
    answer = _send(http, sandbox, "game_round", payload, _token(http, sandbox))
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == 400
    assert body["details"] == [
        {
            "field": "gameTransactionRound.0.currency",
            "errors": ["must be 3 upper-case letters (ISO 4217)"],
        },
        {"field": "gameTransactionRound.1.date", "errors": ["is required"]},
    ]


def test_it_answers_400_to_a_body_that_is_not_json(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    answer = http.post(
        sandbox.base_url + "/rx-api/players-data/v1/login",
        data=b"{nope",
        headers={"Authorization": f"Bearer {_token(http, sandbox)}"},
    )
    assert (answer.status_code, answer.json()["message"]) == (400, "body is not valid JSON")


def test_it_answers_404_to_an_unknown_path(sandbox: SandboxServer, http: requests.Session) -> None:
    answer = http.post(sandbox.base_url + "/rx-api/transactions/v1/jackpot", json={})
    assert answer.status_code == 404
    assert sandbox.received[-1].status == 404


def test_it_decodes_a_gzip_migration_batch_and_reports_each_invalid_player(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    payload = {"players": [{"playerId": "p-1"}, {"playerId": "p-2", "birthDate": "31/01/1990"}]}
    answer = _send(
        http,
        sandbox,
        "players_migration_batch",
        data=gzip.compress(wire.dumps(payload)),
        token=_token(http, sandbox),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["migrationTasksId"]
    assert body["validPlayers"] == ["p-1"]
    assert body["errorsTotal"] == 1
    assert body["invalidPlayers"] == [
        {"index": 1, "playerId": "p-2", "errors": {"birthDate": ["must be a date like 2024-05-01"]}}
    ]
    assert sandbox.received[-1].body == payload


def test_it_refuses_an_uncompressed_migration_batch(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    payload = example("players_migration_batch")
    answer = _send(http, sandbox, "players_migration_batch", payload, _token(http, sandbox))
    assert answer.status_code == 415


def test_it_decodes_gzip_on_any_endpoint(sandbox: SandboxServer, http: requests.Session) -> None:
    answer = _send(
        http,
        sandbox,
        "player_login",
        data=gzip.compress(wire.dumps(example("player_login"))),
        token=_token(http, sandbox),
        headers={"Content-Encoding": "gzip"},
    )
    assert answer.status_code == 202


# --- faults -----------------------------------------------------------------------------------


def _statuses(sandbox: SandboxServer, http: requests.Session, count: int) -> list[int]:
    token = _token(http, sandbox)
    return [
        _send(http, sandbox, "player_login", example("player_login"), token).status_code
        for _ in range(count)
    ]


def test_it_fails_a_seeded_share_of_calls_the_same_way_every_run(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.set_fault("player_login", error_rate=0.5, status=503, seed=7)
    first = _statuses(sandbox, http, 40)
    sandbox.set_fault("player_login", error_rate=0.5, status=503, seed=7)
    assert _statuses(sandbox, http, 40) == first
    assert set(first) == {202, 503}
    assert 8 <= first.count(503) <= 32


def test_it_applies_a_star_fault_to_every_type_but_not_to_the_token_call(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.set_fault("*", error_rate=1)
    token = _token(http, sandbox)
    assert _send(http, sandbox, "player_logout", example("player_logout"), token).status_code == 500
    sandbox.set_fault("player_logout")  # a specific entry replaces "*"
    assert _send(http, sandbox, "player_logout", example("player_logout"), token).status_code == 202


def test_it_throttles_with_429_and_retry_after(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    sandbox.set_fault("money_transaction", throttle_rate=1, retry_after=7)
    answer = _send(
        http, sandbox, "money_transaction", example("money_transaction"), _token(http, sandbox)
    )
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert sandbox.received[-1].fault == "throttle"


def test_it_answers_slowly_when_asked(sandbox: SandboxServer, http: requests.Session) -> None:
    token = _token(http, sandbox)
    sandbox.set_fault("player_login", delay_ms=300)
    started = time.monotonic()
    assert _send(http, sandbox, "player_login", example("player_login"), token).status_code == 202
    assert time.monotonic() - started >= 0.3


def test_it_drops_the_connection_without_answering(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    token = _token(http, sandbox)
    sandbox.set_fault("player_login", drop_rate=1)
    with pytest.raises(requests.ConnectionError):
        _send(http, sandbox, "player_login", example("player_login"), token)
    assert sandbox.received[-1].status is None
    assert sandbox.received[-1].fault == "drop"


def test_it_expires_every_token_once(sandbox: SandboxServer, http: requests.Session) -> None:
    old = _token(http, sandbox)
    sandbox.set_fault("player_login", expire_tokens=True)
    assert _send(http, sandbox, "player_login", example("player_login"), old).status_code == 401
    new = _token(http, sandbox)
    assert _send(http, sandbox, "player_login", example("player_login"), new).status_code == 202
    assert _send(http, sandbox, "player_login", example("player_login"), old).status_code == 401


def test_it_refuses_an_unknown_fault_option_or_type(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="error_ratio"):
        sandbox.set_fault("player_login", error_ratio=1)
    with pytest.raises(ValueError, match="error_rate"):
        sandbox.set_fault("player_login", error_rate=2)
    with pytest.raises(KeyError):
        sandbox.set_fault("jackpot", error_rate=1)


def test_it_takes_faults_over_http(sandbox: SandboxServer, http: requests.Session) -> None:
    url = sandbox.base_url + "/_sandbox/faults"
    answer = http.post(url, json={"message_type": "player_login", "error_rate": 1, "status": 502})
    assert answer.status_code == 200
    assert answer.json()["player_login"]["status"] == 502
    assert _statuses(sandbox, http, 1) == [502]
    assert http.delete(url).json() == {}
    assert _statuses(sandbox, http, 1) == [202]
    assert http.post(url, json={"drop_rate": "often"}).status_code == 400
    assert http.post(url, json={"message_type": "jackpot"}).status_code == 400


# --- what it received -------------------------------------------------------------------------


def test_it_records_requests_without_the_authorization_header(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    token = _token(http, sandbox)
    _send(http, sandbox, "money_transaction", example("money_transaction"), token)
    record = sandbox.received[-1]
    assert (record.method, record.message_type, record.status) == (
        "POST",
        "money_transaction",
        202,
    )
    assert record.path == "/rx-api/transactions/v1/money-transaction"
    assert record.player_id == "p-1"
    assert record.body["amount"] == Decimal("100")
    assert not any(name.lower() == "authorization" for name in record.headers)
    assert sandbox.received[0].body["clientSecret"] == "********"


def test_it_lists_what_it_received_newest_first_over_http(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    token = _token(http, sandbox)
    _send(http, sandbox, "player_login", example("player_login"), token)
    _send(http, sandbox, "player_logout", example("player_logout"), token)
    url = sandbox.base_url + "/_sandbox/received"
    types = [r["messageType"] for r in http.get(url).json()]
    assert types == ["player_logout", "player_login", "token"]
    assert [r["messageType"] for r in http.get(url, params={"limit": 1}).json()] == [
        "player_logout"
    ]
    only = http.get(url, params={"type": "player_login"}).json()
    assert [(r["messageType"], r["playerId"], r["status"]) for r in only] == [
        ("player_login", "p-1", 202)
    ]


def test_it_shows_what_it_received_on_its_page(
    sandbox: SandboxServer, http: requests.Session
) -> None:
    token = _token(http, sandbox)
    payload = example("player_update")
    payload["firstName"] = "<b>Ana</b>"
    _send(http, sandbox, "player_update", payload, token)
    page = http.get(sandbox.base_url + "/_sandbox/")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "http-equiv='refresh'" in page.text
    assert "player_update" in page.text
    assert "<td>p-1</td>" in page.text
    assert "&lt;b&gt;Ana&lt;/b&gt;" in page.text and "<b>Ana</b>" not in page.text
    assert page.text.index("player_update") < page.text.index("<td>token</td>")


def test_it_forgets_everything_on_reset(sandbox: SandboxServer, http: requests.Session) -> None:
    token = _token(http, sandbox)
    sandbox.set_fault("*", error_rate=1)
    assert http.post(sandbox.base_url + "/_sandbox/reset").status_code == 204
    assert sandbox.received == []
    assert _send(http, sandbox, "player_login", example("player_login"), token).status_code == 202


# --- files and the HTTP layer -----------------------------------------------------------------


def test_it_stores_and_serves_files(sandbox: SandboxServer, http: requests.Session) -> None:
    details = gzip.compress(b'[{"playerId": "p-2"}]')
    url = sandbox.base_url + "/_sandbox/files/feedback/task-1.json.gz"
    put = http.put(url, data=details, headers={"Content-Type": "application/gzip"})
    assert put.status_code == 201
    got = http.get(url)
    assert (got.headers["Content-Type"], got.content) == ("application/gzip", details)
    assert http.get(sandbox.base_url + "/_sandbox/files/missing").status_code == 404


def test_it_serves_a_file_put_in_process(sandbox: SandboxServer, http: requests.Session) -> None:
    url = sandbox.put_file("d.json", gzip.compress(b"[]"), "application/json", "gzip")
    got = http.get(url)
    assert got.headers["Content-Encoding"] == "gzip"
    assert got.json() == []


def test_it_keeps_the_connection_alive_between_requests(sandbox: SandboxServer) -> None:
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/_sandbox/faults")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
            assert not answer.will_close
        assert len(sandbox._httpd.open_sockets) == 1
    finally:
        connection.close()


def test_it_reads_a_chunked_body(sandbox: SandboxServer, http: requests.Session) -> None:
    token = _token(http, sandbox)
    data = wire.dumps(example("player_login"))
    answer = http.post(
        sandbox.base_url + "/rx-api/players-data/v1/login",
        data=iter([data[:10], data[10:]]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202
    assert sandbox.received[-1].body == example("player_login")


def test_it_closes_open_connections_when_stopped() -> None:
    server = SandboxServer()
    server.start()
    with requests.Session() as session:
        assert session.get(server.base_url + "/_sandbox/faults").status_code == 200
        server.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(server.base_url + "/_sandbox/faults", timeout=2)
