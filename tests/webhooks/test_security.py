"""Hostile or stale requests: a 4xx in the API's error shape, nothing stored or processed,
logged without the body, counted."""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from tests.webhooks.conftest import KEY, URL, level_up, signed_headers, split_all
from webhooks.metrics import WEBHOOK_REQUESTS
from webhooks.models import InboxEvent, WebhookDelivery
from webhooks.security import sign

pytestmark = pytest.mark.django_db
BODY = json.dumps({"events": [level_up()]}).encode()


def post(body: bytes = BODY, **headers: Any) -> Any:
    with mock.patch("webhooks.intake.async_task") as task:
        answer = Client().post(URL, data=body, content_type="application/json", **headers)
    assert not task.called
    return answer


def refused(answer: Any, status: int) -> None:
    assert answer.status_code == status, answer.content
    assert answer.json()["statusCode"] == status and answer.json()["message"]
    assert not WebhookDelivery.objects.exists() and not InboxEvent.objects.exists()


def count(outcome: str) -> float:
    return WEBHOOK_REQUESTS.labels(outcome=outcome)._value.get()


def test_a_wrong_key_is_401_logged_without_the_body_and_counted(caplog: Any) -> None:
    before = count("bad_signature")
    answer = post(**signed_headers(BODY, key="not-the-key"))

    refused(answer, 401)
    assert "WWW-Authenticate" in answer
    assert count("bad_signature") == before + 1
    assert "webhook_refused status=401 reason=bad_signature" in caplog.text
    assert "CurrentLevel" not in caplog.text and "p-1" not in caplog.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP": str(int(time.time()))},
        {"HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE": "ab" * 32},
        {"HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP": "now", "HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE": "x"},
        {
            "HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP": "\uff11\uff12",
            "HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE": "é",
        },
    ],
    ids=["none", "no-signature", "no-timestamp", "junk", "non-ascii"],
)
def test_missing_or_junk_headers_are_401(headers: dict[str, str]) -> None:
    refused(post(**headers), 401)


def test_no_configured_key_refuses_everything(settings: Any) -> None:
    settings.PEP_WEBHOOK_SECRETS = []
    refused(post(**signed_headers(BODY)), 401)


@pytest.mark.parametrize("age", [301, -301, 86400])
def test_a_timestamp_outside_the_window_is_401(age: int) -> None:
    stamp = str(int(time.time()) - age)
    refused(post(**signed_headers(BODY, timestamp=stamp)), 401)


def test_the_window_is_configurable(settings: Any) -> None:
    settings.PEP_WEBHOOK_TOLERANCE_SECONDS = 30
    refused(post(**signed_headers(BODY, timestamp=str(int(time.time()) - 60))), 401)


def test_a_replayed_request_is_409_and_stores_nothing_new() -> None:
    headers = signed_headers(BODY)
    assert post(**headers).status_code == 202
    before = count("replayed")

    answer = post(**headers)
    split_all()

    assert answer.status_code == 409
    assert WebhookDelivery.objects.count() == 1 and InboxEvent.objects.count() == 1
    assert InboxEvent.objects.get().duplicate_count == 0
    assert count("replayed") == before + 1


def test_an_address_outside_the_allow_list_is_403(settings: Any) -> None:
    settings.PEP_WEBHOOK_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]
    refused(post(REMOTE_ADDR="192.0.2.1", **signed_headers(BODY)), 403)
    assert post(REMOTE_ADDR="10.1.2.3", **signed_headers(BODY)).status_code == 202


def test_forwarded_for_is_trusted_only_from_a_trusted_proxy(settings: Any) -> None:
    settings.PEP_WEBHOOK_ALLOWED_IPS = [ipaddress.ip_network("203.0.113.0/24")]
    settings.PEP_WEBHOOK_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.1/32")]
    forged = {"HTTP_X_FORWARDED_FOR": "203.0.113.5", **signed_headers(BODY)}
    refused(post(REMOTE_ADDR="192.0.2.1", **forged), 403)
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.5, 192.0.2.1", **signed_headers(BODY)}
    refused(post(REMOTE_ADDR="10.0.0.1", **spoofed), 403)
    garbled = {"HTTP_X_FORWARDED_FOR": "not-an-ip", **signed_headers(BODY)}
    refused(post(REMOTE_ADDR="10.0.0.1", **garbled), 403)

    answer = post(REMOTE_ADDR="10.0.0.1", **forged)
    assert answer.status_code == 202
    assert WebhookDelivery.objects.get().remote_addr == "203.0.113.5"


def test_an_oversized_body_is_413_before_anything_else(settings: Any) -> None:
    settings.PEP_WEBHOOK_MAX_BODY_BYTES = 2048
    big = json.dumps({"events": [level_up(level=n) for n in range(30)]}).encode()
    assert len(big) > 2048
    refused(post(big, **signed_headers(big)), 413)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"events": [' + b"[" * 100 + b"]" * 100 + b"]}",
        b'{"events": [{"eventName": "x\\u0000", "payload": []}]}',
        b'{"events": [{"eventName": "\\ud800", "payload": []}]}',
        b'{"events": [{"eventName": "x", "payload": [1e400]}]}',
        b'{"events": [{"eventName": "x", "payload": [NaN]}]}',
        b'{"events": [{"eventName": "x", "payload": [123456789012345678901234567890]}]}',
        b'{"events": [{"eventName": "x", "payload": []}',
        b"\xff\xfe not utf-8",
        b"",
    ],
    ids=[
        "deep",
        "deep-inside",
        "nul",
        "surrogate",
        "inf",
        "nan",
        "bigint",
        "truncated",
        "bytes",
        "empty",
    ],
)
def test_hostile_json_even_correctly_signed_is_400(body: bytes) -> None:
    refused(post(body, **signed_headers(body)), 400)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"events": []},
        {"events": {}},
        {"events": [1]},
        {"events": [{"payload": []}]},
        {"events": [{"eventName": "", "payload": []}]},
        {"events": [{"eventName": "x" * 129, "payload": []}]},
        {"events": [{"eventName": "x", "payload": {}}]},
        {"events": [{"eventName": "x", "payload": [], "eventDate": 5}]},
        [],
    ],
)
def test_a_body_not_shaped_as_events_is_400(document: Any) -> None:
    body = json.dumps(document).encode()
    refused(post(body, **signed_headers(body)), 400)


def test_too_many_events_in_one_request_is_400(settings: Any) -> None:
    settings.PEP_WEBHOOK_MAX_EVENTS = 2
    body = json.dumps({"events": [level_up(level=n) for n in range(3)]}).encode()
    refused(post(body, **signed_headers(body)), 400)


def test_a_signature_over_other_bytes_is_401_not_400() -> None:
    """A malformed body with a signature that does not match says nothing about the body."""
    stamp = str(int(time.time()))
    refused(
        post(
            b"{nope",
            HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP=stamp,
            HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE=sign(KEY, stamp, BODY),
        ),
        401,
    )
