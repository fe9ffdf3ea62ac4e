"""PepClient: settings, error classification, retries, 401 handling, logging hygiene, pooling."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from unittest import mock

import pytest
import requests
import responses
from responses import matchers

from pepbridge.pep import client as client_module
from pepbridge.pep import contract, wire
from pepbridge.pep.client import (
    BACKOFF_CAP,
    PepClient,
    PepResponse,
    get_pep_client,
    reset_pep_client,
)
from pepbridge.pep.errors import PepPermanentError, PepTransientError

BASE = "https://pep.test"
TOKEN_URL = f"{BASE}/api/oauth/v1/token"
EVENT_URL = f"{BASE}/rx-api/transactions/v1/money-transaction"
EVENT_PATH = "/rx-api/transactions/v1/money-transaction"
SECRET = "client-secret-Zq81"
TOKEN = "access-token-Xy42"
NEW_TOKEN = "access-token-second-Kp77"

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pep_settings(settings: Any) -> Any:
    settings.PEP_BASE_URL = BASE
    settings.PEP_CLIENT_ID = "bridge"
    settings.PEP_CLIENT_SECRET = SECRET
    settings.PEP_CONNECT_TIMEOUT = 2.5
    settings.PEP_READ_TIMEOUT = 7.0
    settings.PEP_HTTP_ATTEMPTS = 3
    settings.PEP_TOKEN_REFRESH_MARGIN = 60
    settings.PEP_TOKEN_DEFAULT_LIFETIME = 300
    return settings


@pytest.fixture
def client(pep_settings: Any) -> Iterator[PepClient]:
    pep = PepClient()
    pep.clock = FakeClock()
    pep.sleeps = []  # type: ignore[attr-defined]
    pep.sleep = pep.sleeps.append  # type: ignore[attr-defined]
    yield pep
    pep.close()


def _token(mock_: responses.RequestsMock, token: str = TOKEN, status: int = 200) -> None:
    mock_.add(responses.POST, TOKEN_URL, json={"accessToken": token}, status=status)


def _event(mock_: responses.RequestsMock, status: int = 202, **kwargs: Any) -> None:
    if "body" not in kwargs:
        kwargs.setdefault("json", {})
    mock_.add(responses.POST, EVENT_URL, status=status, **kwargs)


def _data_calls(mock_: responses.RequestsMock) -> list[Any]:
    return [call for call in mock_.calls if call.request.url == EVENT_URL]


# --- settings and the happy path ------------------------------------------------------------


def test_it_takes_base_url_credentials_and_timeouts_from_settings(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    pep_http.add(
        responses.POST,
        TOKEN_URL,
        json={"accessToken": TOKEN},
        match=[matchers.json_params_matcher({"clientId": "bridge", "clientSecret": SECRET})],
    )
    _event(pep_http, match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})])

    client.request("POST", EVENT_PATH, body=b"{}")

    assert all(call.request.req_kwargs["timeout"] == (2.5, 7.0) for call in pep_http.calls)
    assert client.attempts == 3


def test_it_prefers_constructor_arguments_to_settings(
    pep_settings: Any, pep_http: responses.RequestsMock
) -> None:
    pep = PepClient(
        base_url="https://other.test/",
        client_id="someone",
        client_secret="other-secret",
        connect_timeout=1.0,
        read_timeout=2.0,
        attempts=5,
    )
    pep_http.add(
        responses.POST,
        "https://other.test/api/oauth/v1/token",
        json={"accessToken": TOKEN},
        match=[
            matchers.json_params_matcher({"clientId": "someone", "clientSecret": "other-secret"})
        ],
    )
    pep_http.add(responses.GET, "https://other.test/api/data-fetch/v1/ranks/ranks", json={})

    pep.request("GET", "/api/data-fetch/v1/ranks/ranks")

    assert pep_http.calls[1].request.req_kwargs["timeout"] == (1.0, 2.0)
    assert pep.attempts == 5


def test_it_returns_a_pep_response_for_2xx(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    pep_http.add(
        responses.GET,
        f"{BASE}/api/data-fetch/v1/ranks/ranks",
        body=b'{"amount": 1.10}',
        headers={"X-Next": "abc"},
        match=[matchers.query_param_matcher({"limit": "10"})],
    )

    response = client.request("GET", "/api/data-fetch/v1/ranks/ranks", params={"limit": "10"})

    assert isinstance(response, PepResponse)
    assert response.status == 200
    assert response.body == b'{"amount": 1.10}'
    assert response.headers["x-next"] == "abc"
    assert response.json() == {"amount": Decimal("1.10")}
    assert response.elapsed_ms >= 0


def test_it_sends_the_body_bytes_unchanged_as_json(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    body = wire.dumps({"b": Decimal("1.5"), "a": "x"})
    _event(pep_http, match=[matchers.header_matcher({"Content-Type": "application/json"})])

    client.request("POST", EVENT_PATH, body=body)

    assert _data_calls(pep_http)[0].request.body == body


def test_it_lets_headers_override_the_content_type(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http)

    client.request(
        "POST", EVENT_PATH, body=b"\x1f\x8b", headers={"content-type": "application/gzip"}
    )

    sent = _data_calls(pep_http)[0].request.headers
    assert sent["Content-Type"] == "application/gzip"
    assert len([k for k in sent if k.lower() == "content-type"]) == 1


# --- error classification -------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_it_raises_permanent_for_other_4xx_with_a_body_excerpt(
    client: PepClient, pep_http: responses.RequestsMock, status: int
) -> None:
    _token(pep_http)
    _event(pep_http, status=status, json={"message": "playerId is invalid"})

    with pytest.raises(PepPermanentError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.status == status
    assert caught.value.error_class == f"http_{status}"
    assert "playerId is invalid" in caught.value.body_excerpt
    assert len(_data_calls(pep_http)) == 1  # never retried


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_it_raises_transient_for_408_425_429_and_5xx(
    client: PepClient, pep_http: responses.RequestsMock, status: int
) -> None:
    _token(pep_http)
    _event(pep_http, status=status, body=b"busy")

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    assert caught.value.status == status
    assert caught.value.error_class == f"http_{status}"
    assert caught.value.retry_after is None


def test_it_treats_an_unexpected_redirect_as_transient_and_does_not_follow_it(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http, status=302, headers={"Location": "https://elsewhere.test/"})

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    assert caught.value.error_class == "http_302"


def test_it_keeps_only_an_excerpt_of_a_long_error_body(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http, status=400, body=b"x" * 100_000)

    with pytest.raises(PepPermanentError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert len(caught.value.body_excerpt) == client_module.EXCERPT_BYTES


@pytest.mark.parametrize(
    ("exception", "error_class"),
    [
        (requests.ConnectionError("refused"), "connection"),
        (requests.ConnectTimeout("slow connect"), "timeout"),
        (requests.ReadTimeout("slow read"), "timeout"),
    ],
)
def test_it_raises_transient_for_connection_errors_and_timeouts(
    client: PepClient, pep_http: responses.RequestsMock, exception: Exception, error_class: str
) -> None:
    _token(pep_http)
    _event(pep_http, body=exception)

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    assert caught.value.error_class == error_class
    assert caught.value.status is None
    assert caught.value.__cause__ is None  # requests' exception (holding headers) is not chained


# --- Retry-After ----------------------------------------------------------------------------


def test_it_waits_the_retry_after_seconds_of_a_429(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http, status=429, headers={"Retry-After": "2"})
    _event(pep_http, status=202)

    client.request("POST", EVENT_PATH, body=b"{}")

    assert client.sleeps == [2.0]  # type: ignore[attr-defined]


def test_it_reads_a_retry_after_http_date(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    later = client.clock() + timedelta(seconds=90)
    _event(pep_http, status=429, headers={"Retry-After": format_datetime(later, usegmt=True)})

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.retry_after == 90.0


def test_it_gives_a_long_retry_after_back_to_the_caller_at_once(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http, status=503, headers={"Retry-After": "120"})

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.retry_after == 120.0
    assert len(_data_calls(pep_http)) == 1
    assert client.sleeps == []  # type: ignore[attr-defined]


def test_parse_retry_after_ignores_garbage() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert client_module.parse_retry_after("soon", now) is None
    assert client_module.parse_retry_after("", now) is None
    assert client_module.parse_retry_after("Tue, 01 Jan 2030 00:00:00 GMT", now) == 0.0


# --- retries --------------------------------------------------------------------------------


def test_it_retries_transient_faults_with_growing_waits(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    client.attempts = 4
    _token(pep_http)
    _event(pep_http, status=503)

    with pytest.raises(PepTransientError):
        client.request("POST", EVENT_PATH, body=b"{}")

    waits = client.sleeps  # type: ignore[attr-defined]
    assert len(_data_calls(pep_http)) == 4
    assert len(waits) == 3
    assert waits[0] < waits[1] < waits[2] <= BACKOFF_CAP
    assert waits[0] >= 0.1


def test_it_returns_the_answer_of_a_retry_that_succeeds(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http, body=requests.ConnectionError("reset"))
    _event(pep_http, status=202, json={"ok": True})

    response = client.request("POST", EVENT_PATH, body=b"{}")

    assert response.json() == {"ok": True}
    assert len(_data_calls(pep_http)) == 2


def test_it_makes_one_attempt_with_retry_false(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    _event(pep_http, status=500)

    with pytest.raises(PepTransientError):
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    assert len(_data_calls(pep_http)) == 1
    assert client.sleeps == []  # type: ignore[attr-defined]


# --- 401 and the token endpoint -------------------------------------------------------------


def test_it_refreshes_the_token_and_retries_once_after_a_401(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, TOKEN)
    _token(pep_http, NEW_TOKEN)
    _event(pep_http, status=401)
    _event(pep_http, status=202)

    client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    calls = _data_calls(pep_http)
    assert [c.request.headers["Authorization"] for c in calls] == [
        f"Bearer {TOKEN}",
        f"Bearer {NEW_TOKEN}",
    ]


def test_it_raises_token_rejected_on_a_second_401(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, TOKEN)
    _token(pep_http, NEW_TOKEN)
    _event(pep_http, status=401)

    with pytest.raises(PepPermanentError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.error_class == "token_rejected"
    assert len(_data_calls(pep_http)) == 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_it_treats_a_4xx_from_the_token_endpoint_as_a_configuration_error(
    client: PepClient, pep_http: responses.RequestsMock, status: int
) -> None:
    _token(pep_http, status=status)

    with pytest.raises(PepPermanentError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.error_class == "token_config"
    assert len(pep_http.calls) == 1


def test_it_retries_a_token_endpoint_5xx_as_transient(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http, status=503)

    with pytest.raises(PepTransientError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.error_class == "http_503"
    assert len(pep_http.calls) == 3


def test_it_refuses_a_token_answer_without_access_token(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    pep_http.add(responses.POST, TOKEN_URL, body=b"<html>login</html>")

    with pytest.raises(PepPermanentError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")

    assert caught.value.error_class == "token_malformed"


# --- secrets never leak ---------------------------------------------------------------------


def test_no_secret_or_token_reaches_logs_errors_or_reprs(
    client: PepClient, pep_http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _token(pep_http, TOKEN)
    _token(pep_http, NEW_TOKEN)
    echo = {"error": f"bad {SECRET} {TOKEN} {NEW_TOKEN}"}
    _event(pep_http, status=401, json=echo)
    _event(pep_http, status=401, json=echo)
    # PEP might echo what it was sent: the token in use, the credentials.
    _event(pep_http, status=400, json={"error": f"bad token {NEW_TOKEN}"})
    pep_http.add(responses.POST, TOKEN_URL, status=401, json={"error": f"bad secret {SECRET}"})

    errors: list[PepPermanentError] = []
    for _ in range(2):
        with pytest.raises(PepPermanentError) as caught:
            client.request("POST", EVENT_PATH, body=b"{}")
        errors.append(caught.value)
    client.tokens.invalidate(client.tokens.get())
    with pytest.raises(PepPermanentError) as caught:
        client.request("POST", EVENT_PATH, body=b"{}")
    errors.append(caught.value)

    assert [e.error_class for e in errors] == ["token_rejected", "http_400", "token_config"]
    texts = [caplog.text, repr(client), repr(client.tokens), repr(client.tokens.peek())]
    texts += [f"{e!s} {e!r} {e.body_excerpt}" for e in errors]
    for text in texts:
        for secret in (SECRET, TOKEN, NEW_TOKEN):
            assert secret not in text
    assert all("***" in e.body_excerpt for e in errors)


def test_it_logs_one_structured_line_per_call(
    client: PepClient, pep_http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pepbridge.pep")
    _token(pep_http)
    _event(pep_http, status=503)
    _event(pep_http, status=202)

    client.request("POST", EVENT_PATH, body=b'{"playerId": "p-1"}', params={"x": "p-1"})

    records = [r for r in caplog.records if r.name == "pepbridge.pep"]
    fields = [(r.method, r.path, r.status, r.attempt, r.error_class) for r in records]  # type: ignore[attr-defined]
    assert fields == [
        ("POST", "/api/oauth/v1/token", 200, 1, ""),
        ("POST", EVENT_PATH, 503, 1, "http_503"),
        ("POST", EVENT_PATH, 202, 2, ""),
    ]
    assert all(isinstance(r.latency_ms, float) for r in records)  # type: ignore[attr-defined]
    assert [r.levelname for r in records] == ["INFO", "WARNING", "INFO"]
    assert "p-1" not in caplog.text


def test_it_logs_a_timeout_with_its_error_class(
    client: PepClient, pep_http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pepbridge.pep")
    _token(pep_http)
    _event(pep_http, body=requests.ReadTimeout("slow"))

    with pytest.raises(PepTransientError):
        client.request("POST", EVENT_PATH, body=b"{}", retry=False)

    last = caplog.records[-1]
    assert (last.status, last.error_class) == ("", "timeout")  # type: ignore[attr-defined]


# --- URLs and size limits -------------------------------------------------------------------


def test_it_accepts_an_absolute_url_on_peps_host(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    pep_http.add(responses.GET, f"{BASE}:443/files/details.json.gz", body=b"gz")

    response = client.request("GET", f"{BASE}:443/files/details.json.gz")

    assert response.body == b"gz"


@pytest.mark.parametrize(
    "url",
    ["https://evil.test/files/x", "http://pep.test/files/x", "https://pep.test:8443/files/x"],
)
def test_it_refuses_an_absolute_url_elsewhere(client: PepClient, url: str) -> None:
    with pytest.raises(PepPermanentError) as caught:
        client.request("GET", url)

    assert caught.value.error_class == "foreign_url"


def test_it_refuses_a_body_over_stream_limit_announced_by_content_length(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    pep_http.add(responses.GET, f"{BASE}/files/big", body=b"x" * 2048)

    with pytest.raises(PepPermanentError) as caught:
        client.request("GET", "/files/big", stream_limit=1024)

    assert caught.value.error_class == "too_large"


def test_it_refuses_a_body_over_stream_limit_without_content_length(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    pep_http.add(
        responses.GET, f"{BASE}/files/big", body=b"x" * 2048, auto_calculate_content_length=False
    )

    with pytest.raises(PepPermanentError) as caught:
        client.request("GET", "/files/big", stream_limit=1024)

    assert caught.value.error_class == "too_large"


def test_it_returns_a_body_within_stream_limit(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    _token(pep_http)
    pep_http.add(responses.GET, f"{BASE}/files/small", body=b"x" * 1024)

    assert client.request("GET", "/files/small", stream_limit=1024).body == b"x" * 1024


# --- connection reuse and the process-wide client -------------------------------------------


def test_it_reuses_one_session_across_calls(
    pep_settings: Any, pep_http: responses.RequestsMock
) -> None:
    with mock.patch.object(
        client_module.requests, "Session", wraps=requests.Session
    ) as session_class:
        pep = PepClient()
        session = pep.session
        with mock.patch.object(session, "request", wraps=session.request) as sent:
            _token(pep_http)
            _event(pep_http)
            pep.request("POST", EVENT_PATH, body=b"{}")
            pep.request("POST", EVENT_PATH, body=b"{}")

    assert session_class.call_count == 1
    assert sent.call_count == 3  # token + two data calls, all through the same session
    assert pep.session is session


def test_get_pep_client_returns_one_client_per_process(pep_settings: Any) -> None:
    reset_pep_client()
    seen: list[PepClient] = []
    threads = [threading.Thread(target=lambda: seen.append(get_pep_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(c) for c in seen}) == 1
    reset_pep_client()
    assert get_pep_client() is not seen[0]
    reset_pep_client()


def test_it_reports_the_token_age_for_the_health_endpoint(
    client: PepClient, pep_http: responses.RequestsMock
) -> None:
    assert client.token_age_seconds() is None
    _token(pep_http)
    _event(pep_http)
    client.request("POST", EVENT_PATH, body=b"{}")
    client.clock.now += timedelta(seconds=42)  # type: ignore[attr-defined]

    assert client.token_age_seconds() == 42.0


# --- proxy environment: read once, when the client is made ------------------------------------


class _RecordingProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy stand-in: answers PEP's calls itself and records the absolute URLs."""

    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append(self.path)
        body = b'{"accessToken": "t"}' if self.path.endswith("/token") else b"{}"
        self.send_response(200 if self.path.endswith("/token") else 202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    _RecordingProxy.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_it_does_not_look_up_the_environment_on_every_call(pep_settings: Any) -> None:
    pep = PepClient()
    assert pep.session.trust_env is False
    pep.close()


def test_it_sends_through_the_proxy_configured_when_it_was_made(
    pep_settings: Any, proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", proxy)
    pep = PepClient(base_url="http://pep.invalid")
    monkeypatch.delenv("http_proxy")  # later changes are not looked up
    try:
        answer = pep.request("POST", EVENT_PATH, body=b"{}")
    finally:
        pep.close()
    assert answer.status == 202
    assert _RecordingProxy.seen == [
        "http://pep.invalid/api/oauth/v1/token",
        f"http://pep.invalid{EVENT_PATH}",
    ]


def test_it_bypasses_the_proxy_for_hosts_in_no_proxy(
    pep_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    monkeypatch.setenv("no_proxy", "pep.test")
    pep = PepClient()
    assert pep.session.proxies == {}
    pep.close()
    monkeypatch.delenv("no_proxy")
    monkeypatch.delenv("NO_PROXY", raising=False)
    pep = PepClient()
    assert pep.session.proxies["https"] == "http://proxy.invalid:3128"
    pep.close()


# --- paths: no id can change them -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/players-data/v1/players/..",
        "/api/players-data/v1/players/.",
        "/api/players-data/v1/players/%2E%2e",
        "/api/players-data/v1/players/../../oauth/v1/token",
        f"{BASE}/api/players-data/v1/players/..?x=1",
    ],
)
def test_it_refuses_a_path_with_a_dot_segment_and_sends_nothing(
    client: PepClient, pep_http: responses.RequestsMock, path: str
) -> None:
    with pytest.raises(PepPermanentError) as refused:
        client.request("DELETE", path)
    assert refused.value.error_class == "unsafe_path"
    assert not pep_http.calls


@pytest.mark.parametrize(
    ("player_id", "segment"),
    [("a/b", "a%2Fb"), ("a?b#c", "a%3Fb%23c"), ("50%", "50%25"), (".a", ".a")],
)
def test_a_player_id_reaches_peps_url_as_one_encoded_segment(
    client: PepClient, pep_http: responses.RequestsMock, player_id: str, segment: str
) -> None:
    _token(pep_http)
    url = f"{BASE}/api/players-data/v1/players/{segment}"
    pep_http.add(responses.DELETE, url, status=204)
    client.request("DELETE", contract.path_for("player_delete", playerId=player_id))
    assert pep_http.calls[-1].request.url == url


@pytest.mark.parametrize("player_id", [".", "..", "..."])
def test_a_dot_only_player_id_never_becomes_a_path(player_id: str) -> None:
    with pytest.raises(ValueError, match="dot segment"):
        contract.path_for("player_delete", playerId=player_id)
