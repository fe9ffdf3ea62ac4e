"""The one error shape, for every status the inbound APIs answer with."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def pep(make_key) -> Client:
    return Client(headers={"x-api-key": make_key()})


def test_400_carries_nested_field_errors(pep):
    response = pep.post("/test/errors/x", {"address": {}}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Some fields are invalid.",
        "errors": {
            "name": ["This field is required."],
            "address": {"city": ["This field is required."]},
        },
    }


def test_malformed_json_is_a_400(pep):
    response = pep.post("/test/errors/x", "{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400
    assert body["error"] == "Bad Request"
    assert "JSON" in body["message"]


def test_403_has_the_shape(make_key):
    response = Client().get("/test/pep", headers={"x-api-key": make_key("ingest")})
    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "The credential does not have the scope this endpoint needs.",
    }


def test_404_has_the_shape(pep):
    response = pep.get("/test/errors/404")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "error": "Not Found", "message": "Not found."}


def test_405_has_the_shape(pep):
    response = pep.delete("/test/pep")
    assert response.status_code == 405
    assert response.json()["error"] == "Method Not Allowed"


def test_an_api_error_sets_status_and_message(pep):
    response = pep.get("/test/errors/409")
    assert response.status_code == 409
    assert response.json() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "requestId r-1 was used with another body.",
    }


def test_415_has_the_shape(pep):
    response = pep.post("/test/pep", "a=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"] == "Unsupported Media Type"


def test_500_leaks_nothing(pep, caplog):
    response = pep.get("/test/errors/500")
    assert response.status_code == 500
    assert response.json() == {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "Internal server error.",
    }
    assert b"passwd" not in response.content
    assert b"Traceback" not in response.content
    assert "api_unhandled_error" in caplog.text


def test_api_error_field_errors_and_headers():
    from pepbridge.api.exception_handler import api_exception_handler
    from pepbridge.api.exceptions import ApiError

    exc = ApiError(413, "Too big.", errors={"body": ["Split it."]}, headers={"X-Limit": "5"})
    response = api_exception_handler(exc, {})
    assert response.status_code == 413
    assert response.data == {
        "statusCode": 413,
        "error": "Request Entity Too Large",
        "message": "Too big.",
        "errors": {"body": ["Split it."]},
    }
    assert response["X-Limit"] == "5"


def test_an_unknown_api_path_is_a_404_in_the_shape(settings):
    settings.ROOT_URLCONF = "pepbridge.urls"
    response = Client().get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "error": "Not Found", "message": "Not found."}


def test_an_unknown_page_elsewhere_stays_html(settings):
    settings.ROOT_URLCONF = "pepbridge.urls"
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_crash_outside_drf_under_api_is_a_500_in_the_shape(rf):
    from pepbridge.api.views import server_error

    response = server_error(rf.get("/ingest/v1/events"))
    assert response.status_code == 500
    assert b'"Internal server error."' in response.content
