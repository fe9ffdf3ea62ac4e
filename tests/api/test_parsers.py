"""The one JSON parser: every body that is not usable JSON is a 400 in the error shape."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.exceptions import ParseError

from pepbridge.api.exceptions import ApiError
from pepbridge.api.parsers import BadJSON, ExactJSONParser, JSONParser, parse_json

pytestmark = pytest.mark.django_db

NESTED = "[" * 100_000 + "]" * 100_000


def test_it_turns_deep_nesting_into_a_parse_error():
    with pytest.raises(ParseError, match="nested too deeply"):
        JSONParser().parse(io.BytesIO(NESTED.encode()))


@pytest.mark.parametrize("body", [b"{nope", b'{"a": NaN}', b"\xff\xfe{}"])
def test_it_turns_every_decoding_problem_into_a_parse_error(body):
    with pytest.raises(ParseError, match="not valid JSON"):
        JSONParser().parse(io.BytesIO(body))


def test_the_exact_parser_reads_fractions_as_decimal():
    assert ExactJSONParser().parse(io.BytesIO(b'{"a": 0.1}')) == {"a": Decimal("0.1")}


def test_the_default_parser_keeps_floats():
    assert JSONParser().parse(io.BytesIO(b'{"a": 0.5}')) == {"a": 0.5}


def test_parse_json_says_why_in_a_phrase():
    with pytest.raises(BadJSON, match=r"^nested too deeply to be read$"):
        parse_json(NESTED)


def test_it_is_the_default_parser_of_every_api_view(make_key):
    pep = Client(headers={"x-api-key": make_key()})
    response = pep.post("/test/errors/x", NESTED, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "The body is nested too deeply to be read.",
    }


def test_the_reconciliation_endpoint_answers_400_for_deep_nesting(make_key, settings):
    settings.ROOT_URLCONF = "pepbridge.urls"
    pep = Client(headers={"x-api-key": make_key()})
    response = pep.post("/api/reconciliation/v1/players", NESTED, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400


def test_it_refuses_a_body_past_the_upload_limit_without_reading_it_all(settings):
    """DRF reads request.data from the raw stream, past Django's own check: the parser bounds it."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    stream = io.BytesIO(b'{"a": "' + b"x" * 5000 + b'"}')
    with pytest.raises(ApiError) as refused:
        JSONParser().parse(stream)
    assert refused.value.status_code == 413
    assert stream.tell() == 1001  # the limit and one byte to know it is over


def test_it_reads_up_to_the_views_own_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    class IngestLike:
        body_byte_limit = 100

    body = b'{"a": "' + b"x" * 50 + b'"}'
    context = {"view": IngestLike()}
    assert JSONParser().parse(io.BytesIO(body), parser_context=context) == {"a": "x" * 50}


def test_an_api_view_answers_413_for_a_json_body_past_the_limit(make_key, settings):
    settings.ROOT_URLCONF = "pepbridge.urls"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    pep = Client(headers={"x-api-key": make_key()})
    body = '{"requestId": "' + "x" * 5000 + '"}'
    response = pep.post("/api/reconciliation/v1/players", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["statusCode"] == 413
