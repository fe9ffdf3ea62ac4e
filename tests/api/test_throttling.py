"""Per-client throttling: 429 with Retry-After, counted per credential."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from pepbridge.api.throttling import parse_rate

pytestmark = pytest.mark.django_db


def test_it_answers_429_with_retry_after_over_the_rate(make_key, settings):
    settings.API_THROTTLE_RATE = "2/min"
    key = make_key()
    statuses = [Client().get("/test/pep", headers={"x-api-key": key}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    throttled = statuses[-1]
    assert 1 <= int(throttled["Retry-After"]) <= 60
    body = throttled.json()
    assert body["statusCode"] == 429
    assert body["error"] == "Too Many Requests"


def test_it_counts_each_client_on_its_own(make_key, settings):
    settings.API_THROTTLE_RATE = "1/min"
    first, second = make_key(), make_key()
    assert Client().get("/test/pep", headers={"x-api-key": first}).status_code == 200
    assert Client().get("/test/pep", headers={"x-api-key": first}).status_code == 429
    assert Client().get("/test/pep", headers={"x-api-key": second}).status_code == 200


def test_it_can_be_switched_off(make_key, settings):
    settings.API_THROTTLE_RATE = "off"
    key = make_key()
    for _ in range(5):
        assert Client().get("/test/pep", headers={"x-api-key": key}).status_code == 200


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("6000/min", (6000, 60)), ("100/s", (100, 1)), ("5/hour", (5, 3600)), ("1/d", (1, 86400))],
)
def test_it_reads_rates(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["fast", "0/min", "10/fortnight", "-1/s"])
def test_it_refuses_a_bad_rate_loudly(rate):
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_RATE"):
        parse_rate(rate)
