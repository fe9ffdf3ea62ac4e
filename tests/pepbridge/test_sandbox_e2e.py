"""The real PEP client against the sandbox over loopback, and the sandbox as a command."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from pepbridge.pep import contract, wire
from pepbridge.pep.client import PepClient
from pepbridge.pep.errors import PepPermanentError, PepTransientError
from pepbridge.sandbox import SandboxServer
from pepbridge.sandbox.examples import PATH_PARAMS, example

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(client_id="bridge", client_secret="s3cret", token_lifetime=300) as server:
        yield server


@pytest.fixture
def pep(sandbox: SandboxServer) -> Iterator[PepClient]:
    client = PepClient(
        base_url=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret
    )
    client.sleep = lambda seconds: None  # retries without real waiting
    yield client
    client.close()


def _send(pep: PepClient, message_type: str) -> int:
    item = contract.endpoint(message_type)
    path = contract.path_for(message_type, **PATH_PARAMS.get(message_type, {}))
    payload = example(message_type)
    body = None if payload is None else wire.dumps(payload)
    headers = {}
    if item.gzip and body is not None:
        body, headers = gzip.compress(body), {"Content-Encoding": "gzip"}
    return pep.request(item.method, path, body=body, headers=headers).status


def test_the_client_delivers_every_message_type(sandbox: SandboxServer, pep: PepClient) -> None:
    for message_type in contract.MESSAGE_TYPES:
        if message_type != "token":
            assert _send(pep, message_type) == contract.endpoint(message_type).success_status
    delivered = [r.message_type for r in sandbox.received]
    assert delivered == list(contract.MESSAGE_TYPES)  # one token, then each type once
    assert sandbox.received[1].body == example("game_round")


def test_the_client_fetches_a_new_token_when_the_sandbox_expires_them(
    sandbox: SandboxServer, pep: PepClient
) -> None:
    assert _send(pep, "player_login") == 202
    sandbox.set_fault("player_login", expire_tokens=True)
    assert _send(pep, "player_login") == 202
    statuses = [(r.message_type, r.status) for r in sandbox.received]
    assert statuses == [
        ("token", 200),
        ("player_login", 202),
        ("player_login", 401),
        ("token", 200),
        ("player_login", 202),
    ]


def test_the_client_retries_injected_5xx_and_429_then_gives_up_transiently(
    sandbox: SandboxServer, pep: PepClient
) -> None:
    sandbox.set_fault("money_transaction", error_rate=1, status=503)
    with pytest.raises(PepTransientError) as failure:
        _send(pep, "money_transaction")
    assert failure.value.status == 503
    assert len(sandbox.received) == 1 + pep.attempts
    sandbox.set_fault("money_transaction", throttle_rate=1, retry_after=60)
    with pytest.raises(PepTransientError) as throttled:
        _send(pep, "money_transaction")
    assert (throttled.value.status, throttled.value.retry_after) == (429, 60.0)


def test_the_client_sees_a_dropped_connection_as_transient(
    sandbox: SandboxServer, pep: PepClient
) -> None:
    sandbox.set_fault("player_logout", drop_rate=1)
    with pytest.raises(PepTransientError) as failure:
        _send(pep, "player_logout")
    assert failure.value.error_class == "connection"


def test_the_client_gets_a_permanent_error_naming_the_bad_field(
    sandbox: SandboxServer, pep: PepClient
) -> None:
    payload = example("money_transaction")
    payload["currency"] = "euro"
    with pytest.raises(PepPermanentError) as failure:
        pep.request("POST", contract.path_for("money_transaction"), body=wire.dumps(payload))
    assert failure.value.status == 400
    assert '"field":"currency"' in failure.value.body_excerpt


def test_the_client_reports_wrong_credentials_as_permanent(sandbox: SandboxServer) -> None:
    client = PepClient(base_url=sandbox.base_url, client_id="bridge", client_secret="wrong")
    try:
        with pytest.raises(PepPermanentError) as failure:
            client.request("POST", contract.path_for("player_login"), body=b"{}")
        assert failure.value.error_class == "token_config"
    finally:
        client.close()


def test_the_command_serves_the_sandbox_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "pep_sandbox", "--port", "0", "--client-id", "x"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PEP sandbox on http://127.0.0.1:")
        base_url = line.split()[3]
        answer = requests.post(
            base_url + "/api/oauth/v1/token", json={"clientId": "x", "clientSecret": "y"}, timeout=5
        )
        assert answer.status_code == 401
        assert requests.get(base_url + "/_sandbox/received", timeout=5).json()[0]["status"] == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_request_cut_off_mid_body_is_neither_handled_nor_recorded(
    sandbox: SandboxServer,
) -> None:
    """A worker killed mid-send leaves half a body: PEP never sees that request, so neither may
    the sandbox (tests count its records as what PEP received)."""
    path = contract.path_for("money_transaction")
    body = wire.dumps(example("money_transaction"))
    url = urlsplit(sandbox.base_url)
    host = url.hostname or "127.0.0.1"
    with socket.create_connection((host, url.port or 80), timeout=5) as conn:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.sendall(head + body[: len(body) // 2])
        conn.shutdown(socket.SHUT_WR)  # the rest never comes
        assert conn.recv(1024) == b""  # closed without an answer
    assert sandbox.received == []
