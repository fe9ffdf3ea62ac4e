"""The shared PEP token: lifetime, refresh before expiry, one refresh at a time, invalidation."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from django.db import connection

from pepbridge.pep.client import PepClient
from pepbridge.pep.errors import PepTransientError
from pepbridge.pep.models import PepToken
from pepbridge.pep.token import cache_key, parse_token_response

BASE = "https://pep.test"
TOKEN_URL = f"{BASE}/api/oauth/v1/token"
EVENT_URL = f"{BASE}/rx-api/players-data/v1/login"
EVENT_PATH = "/rx-api/players-data/v1/login"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def pep_settings(settings: Any) -> Any:
    settings.PEP_BASE_URL = BASE
    settings.PEP_CLIENT_ID = "bridge"
    settings.PEP_CLIENT_SECRET = "secret-Qw3"
    settings.PEP_HTTP_ATTEMPTS = 3
    settings.PEP_TOKEN_REFRESH_MARGIN = 60
    settings.PEP_TOKEN_DEFAULT_LIFETIME = 300
    return settings


def _client(clock: FakeClock | None = None) -> PepClient:
    pep = PepClient()
    pep.clock = clock or FakeClock()
    pep.sleep = lambda seconds: None
    return pep


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(pep_settings: Any, clock: FakeClock) -> Iterator[PepClient]:
    pep = _client(clock)
    yield pep
    pep.close()


def _token(mock_: responses.RequestsMock, token: str, **extra: Any) -> None:
    mock_.add(responses.POST, TOKEN_URL, json={"accessToken": token, **extra})


def _tokens_sent(mock_: responses.RequestsMock) -> list[str]:
    return [
        c.request.headers["Authorization"].removeprefix("Bearer ")
        for c in mock_.calls
        if c.request.url == EVENT_URL
    ]


def _row() -> PepToken:
    return PepToken.objects.get(key=cache_key(BASE, "bridge"))


# --- lifetime -------------------------------------------------------------------------------


def test_it_uses_expires_in_when_pep_sends_it() -> None:
    body = json.dumps({"accessToken": _jwt({"exp": 9_999_999_999}), "expiresIn": 900}).encode()
    fetched = parse_token_response(body, now=START, default_lifetime=300)
    assert (fetched.lifetime, fetched.source) == (900.0, "expiresIn")


def test_it_falls_back_to_the_jwt_exp_claim() -> None:
    exp = START.timestamp() + 1800
    body = json.dumps({"accessToken": _jwt({"exp": exp, "sub": "bridge"})}).encode()
    fetched = parse_token_response(body, now=START, default_lifetime=300)
    assert (fetched.lifetime, fetched.source) == (1800.0, "jwt_exp")


@pytest.mark.parametrize("token", ["opaque-token", "a.b.c", _jwt({"sub": "no-exp"})])
def test_it_falls_back_to_the_default_lifetime(token: str) -> None:
    body = json.dumps({"accessToken": token, "expiresIn": "soon"}).encode()
    fetched = parse_token_response(body, now=START, default_lifetime=300)
    assert (fetched.lifetime, fetched.source) == (300.0, "default")


def test_fetched_and_cached_tokens_hide_their_value_in_repr() -> None:
    fetched = parse_token_response(b'{"accessToken": "tok-Hidden1"}', now=START, default_lifetime=1)
    assert "tok-Hidden1" not in repr(fetched)
    row = PepToken(key="k" * 64, access_token="tok-Hidden1")
    assert "tok-Hidden1" not in f"{row!r} {row!s}"


@pytest.mark.django_db
def test_it_stores_the_expiry_and_refreshes_margin_seconds_before_it(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=600)
    pep_http.add(responses.POST, EVENT_URL, status=202)

    client.request("POST", EVENT_PATH, body=b"{}")

    row = _row()
    assert row.access_token == "tok-1"
    assert row.expires_at == START + timedelta(seconds=600)
    assert row.refresh_after == START + timedelta(seconds=540)
    assert row.generation == 1
    assert row.lease_until is None


@pytest.mark.django_db
def test_a_token_shorter_than_the_margin_is_refreshed_half_way(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=30)
    pep_http.add(responses.POST, EVENT_URL, status=202)

    client.request("POST", EVENT_PATH, body=b"{}")

    assert _row().refresh_after == START + timedelta(seconds=15)


# --- caching and refresh --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_fetches_one_token_for_many_calls_and_processes(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=600)
    pep_http.add(responses.POST, EVENT_URL, status=202)
    other_process = _client(clock)

    client.request("POST", EVENT_PATH, body=b"{}")
    client.request("POST", EVENT_PATH, body=b"{}")
    other_process.request("POST", EVENT_PATH, body=b"{}")

    assert _tokens_sent(pep_http) == ["tok-1"] * 3
    assert len([c for c in pep_http.calls if c.request.url == TOKEN_URL]) == 1


@pytest.mark.django_db
def test_it_refreshes_shortly_before_expiry(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=600)
    _token(pep_http, "tok-2", expiresIn=600)
    pep_http.add(responses.POST, EVENT_URL, status=202)

    client.request("POST", EVENT_PATH, body=b"{}")
    clock.advance(539)
    client.request("POST", EVENT_PATH, body=b"{}")
    clock.advance(2)  # past refresh_after (540 s), the old token is still valid for 59 s
    client.request("POST", EVENT_PATH, body=b"{}")

    assert _tokens_sent(pep_http) == ["tok-1", "tok-1", "tok-2"]
    assert _row().generation == 2


@pytest.mark.django_db
def test_it_replaces_an_expired_token(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1")  # default lifetime 300 s
    _token(pep_http, "tok-2")
    pep_http.add(responses.POST, EVENT_URL, status=202)

    client.request("POST", EVENT_PATH, body=b"{}")
    clock.advance(3600)
    client.request("POST", EVENT_PATH, body=b"{}")

    assert _tokens_sent(pep_http) == ["tok-1", "tok-2"]


@pytest.mark.django_db
def test_a_process_uses_the_token_another_process_refreshed(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=600)
    _token(pep_http, "tok-2", expiresIn=600)
    pep_http.add(responses.POST, EVENT_URL, status=202)
    other_process = _client(clock)

    client.request("POST", EVENT_PATH, body=b"{}")
    other_process.request("POST", EVENT_PATH, body=b"{}")
    clock.advance(545)
    other_process.request("POST", EVENT_PATH, body=b"{}")  # refreshes: tok-2 in the database
    client.request("POST", EVENT_PATH, body=b"{}")  # its memory copy is due: reads tok-2

    assert _tokens_sent(pep_http) == ["tok-1", "tok-1", "tok-2", "tok-2"]


# --- the refresh lease ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_keeps_using_a_valid_token_while_another_process_holds_the_lease(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=600)
    pep_http.add(responses.POST, EVENT_URL, status=202)
    client.request("POST", EVENT_PATH, body=b"{}")
    PepToken.objects.update(lease_until=START + timedelta(hours=1), lease_owner="someone")
    other_process = _client(clock)
    clock.advance(550)  # due for refresh, not expired

    other_process.request("POST", EVENT_PATH, body=b"{}")

    assert _tokens_sent(pep_http) == ["tok-1", "tok-1"]


@pytest.mark.django_db
def test_it_polls_the_row_until_the_lease_holder_stores_a_token(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    pep_http.add(responses.POST, EVENT_URL, status=202)
    PepToken.objects.create(
        key=cache_key(BASE, "bridge"), lease_until=START + timedelta(seconds=30), lease_owner="x"
    )
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        clock.advance(seconds)
        if len(polls) == 3:  # the other process finishes its token request
            PepToken.objects.update(
                access_token="tok-theirs",
                generation=1,
                fetched_at=clock.now,
                refresh_after=clock.now + timedelta(seconds=240),
                expires_at=clock.now + timedelta(seconds=300),
                lease_until=None,
                lease_owner="",
            )

    client.sleep = sleep
    client.request("POST", EVENT_PATH, body=b"{}")

    assert _tokens_sent(pep_http) == ["tok-theirs"]
    assert len(polls) == 3


@pytest.mark.django_db
def test_it_gives_up_waiting_for_a_stuck_refresh_with_a_transient_error(
    client: PepClient, clock: FakeClock
) -> None:
    PepToken.objects.create(
        key=cache_key(BASE, "bridge"), lease_until=START + timedelta(hours=1), lease_owner="x"
    )
    client.sleep = clock.advance

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    assert caught.value.error_class == "token_wait"


@pytest.mark.django_db
def test_a_lease_left_by_a_dead_process_expires(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1")
    pep_http.add(responses.POST, EVENT_URL, status=202)
    PepToken.objects.create(
        key=cache_key(BASE, "bridge"), lease_until=START - timedelta(seconds=1), lease_owner="x"
    )

    client.request("POST", EVENT_PATH, body=b"{}")

    assert _tokens_sent(pep_http) == ["tok-1"]


@pytest.mark.django_db
def test_a_failed_token_request_releases_the_lease(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    pep_http.add(responses.POST, TOKEN_URL, status=503)

    with pytest.raises(PepTransientError):
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    row = _row()
    assert (row.lease_until, row.lease_owner, row.access_token) == (None, "", "")


# PostgreSQL only: the in-memory SQLite test database uses shared-cache mode, whose table
# locks fail at once ("database table is locked") instead of waiting as a file database does.
# On SQLite the poll test above covers the same protocol deterministically.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_concurrent_processes_fetches_a_token(
    pep_settings: Any, pep_http: responses.RequestsMock
) -> None:
    fetches: list[int] = []

    def token_endpoint(request: Any) -> tuple[int, dict[str, str], str]:
        fetches.append(1)
        time.sleep(0.3)  # PEP is slow: the other processes must wait, not fetch too
        return 200, {}, json.dumps({"accessToken": "tok-shared", "expiresIn": 600})

    pep_http.add_callback(responses.POST, TOKEN_URL, callback=token_endpoint)
    pep_http.add(responses.POST, EVENT_URL, status=202)
    clients = [PepClient() for _ in range(5)]  # separate memory caches: like processes
    errors: list[BaseException] = []
    start = threading.Barrier(len(clients))

    def work(pep: PepClient) -> None:
        try:
            start.wait()
            pep.request("POST", EVENT_PATH, body=b"{}", retry=False)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(pep,)) for pep in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(fetches) == 1
    assert _tokens_sent(pep_http) == ["tok-shared"] * 5
    for pep in clients:
        pep.close()


# --- dropping a rejected token --------------------------------------------------------------


@pytest.mark.django_db
def test_a_401_drops_the_stored_token_only_if_it_is_still_the_one_that_failed(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, "tok-1", expiresIn=600)
    _token(pep_http, "tok-2", expiresIn=600)
    pep_http.add(responses.POST, EVENT_URL, status=202)
    client.request("POST", EVENT_PATH, body=b"{}")
    stale = client.tokens.get()
    client.tokens.invalidate(stale)
    fresh = client.tokens.get()  # fetches tok-2

    client.tokens.invalidate(stale)  # a late 401 for tok-1 from another thread or process

    assert (fresh.value, _row().access_token, _row().generation) == ("tok-2", "tok-2", 2)
    assert client.tokens.get().value == "tok-2"


@pytest.mark.django_db
def test_token_age_is_none_without_a_token_and_counts_from_the_fetch(
    client: PepClient, clock: FakeClock, pep_http: responses.RequestsMock
) -> None:
    assert client.token_age_seconds() is None
    _token(pep_http, "tok-1")
    client.tokens.get()
    clock.advance(12)
    other_process = _client(clock)

    assert client.token_age_seconds() == 12.0
    assert other_process.token_age_seconds() == 12.0
