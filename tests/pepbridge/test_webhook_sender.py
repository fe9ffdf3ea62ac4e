"""The operator webhook sender: Standard Webhooks signatures, URL rules, error classification."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests
import responses as responses_lib
from standardwebhooks.webhooks import Webhook

from pepbridge.pep.errors import PepPermanentError, PepTransientError
from pepbridge.pep.webhook_sender import (
    WebhookSender,
    secret_key,
    secret_new,
    signature,
    url_problem,
)

URL = "https://crm.example.com/hook?token=receiver-own-token"


@pytest.fixture
def sender() -> WebhookSender:
    sender = WebhookSender(connect_timeout=1, read_timeout=1)
    sender.clock = lambda: 1_800_000_000.0
    return sender


def test_a_new_secret_is_whsec_with_32_random_bytes() -> None:
    first, second = secret_new(), secret_new()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_!!!", "c2VjcmV0", "whsec_c2hvcnQ="])
def test_a_malformed_secret_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="whsec_"):
        secret_key(bad)


def test_the_signature_is_what_the_reference_library_computes() -> None:
    secret, body = secret_new(), b'{"type":"pep.level_up"}'
    expected = Webhook(secret).sign("msg_1", _datetime(1_800_000_000), body.decode())
    assert signature(secret, "msg_1", 1_800_000_000, body) == expected


@responses_lib.activate
def test_it_posts_the_body_signed_and_returns_the_status(sender, settings) -> None:
    responses_lib.post(URL, status=202)
    secret = secret_new()
    assert sender.send(url=URL, secret=secret, message_id="msg_7", body=b'{"a":1}') == 202
    request = responses_lib.calls[0].request
    assert request.body == b'{"a":1}'
    assert request.headers["webhook-timestamp"] == "1800000000"
    assert request.headers["webhook-signature"] == signature(
        secret, "msg_7", 1_800_000_000, b'{"a":1}'
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, PepPermanentError), (410, PepPermanentError), (429, PepTransientError),
     (500, PepTransientError), (503, PepTransientError), (302, PepTransientError)],
)  # fmt: skip
@responses_lib.activate
def test_answers_are_classified_as_for_pep(sender, status: int, error: type) -> None:
    responses_lib.post(URL, status=status, body="x" * 10_000, headers={"Location": "https://x/"})
    with pytest.raises(error) as raised:
        sender.send(url=URL, secret=secret_new(), message_id="m", body=b"{}")
    assert raised.value.status == status
    assert len(raised.value.body_excerpt) <= 4096
    assert len(responses_lib.calls) == 1  # one attempt, no redirect followed


@responses_lib.activate
def test_retry_after_is_kept_for_the_outbox(sender) -> None:
    responses_lib.post(URL, status=429, headers={"Retry-After": "120"})
    with pytest.raises(PepTransientError) as raised:
        sender.send(url=URL, secret=secret_new(), message_id="m", body=b"{}")
    assert raised.value.retry_after == 120


@responses_lib.activate
def test_a_connection_failure_is_transient_and_names_only_the_host(sender) -> None:
    responses_lib.post(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(PepTransientError) as raised:
        sender.send(url=URL, secret=secret_new(), message_id="m", body=b"{}")
    assert raised.value.error_class == "connection"
    assert "token" not in str(raised.value) and raised.value.__cause__ is None


@responses_lib.activate
def test_the_log_line_has_no_query_string_and_no_signature(sender, caplog) -> None:
    responses_lib.post(URL, status=204)
    secret = secret_new()
    with caplog.at_level(logging.INFO, logger="pepbridge.webhooks_out"):
        sender.send(url=URL, secret=secret, message_id="m", body=b"{}")
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "crm.example.com" in text
    assert "receiver-own-token" not in text and secret not in text and "v1," not in text


def test_a_refused_url_is_a_permanent_error_before_any_request(sender, settings) -> None:
    settings.DEBUG = False
    with pytest.raises(PepPermanentError) as raised:
        sender.send(url="http://crm.example.com/h", secret=secret_new(), message_id="m", body=b"")
    assert raised.value.error_class == "bad_url"


@pytest.mark.parametrize(
    ("url", "debug", "ok"),
    [
        ("https://crm.example.com/h", False, True),
        ("https://10.0.0.5:8443/h", False, True),  # internal systems are the usual receivers
        ("http://127.0.0.1:9000/h", False, True),
        ("http://[::1]:9000/h", False, True),
        ("http://localhost/h", False, True),
        ("http://crm.example.com/h", False, False),
        ("http://crm.example.com/h", True, True),
        ("https://u:p@crm.example.com/h", True, False),
        ("https://crm.example.com/h#x", True, False),
        ("https://crm.example.com:99999/h", True, False),
        ("javascript:alert(1)", True, False),
        ("https:///nohost", True, False),
        ("https://crm.example.com/" + "a" * 600, True, False),
    ],
)
def test_url_rules(url: str, debug: bool, ok: bool) -> None:
    assert (url_problem(url, debug=debug) is None) is ok


def _datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
