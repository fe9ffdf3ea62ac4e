"""The OpenAPI schema shows our header schemes and documents the identity endpoint's errors."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    # The token endpoint (pepbridge.api) and the identity check (players), as tests/api/urls.py.
    return SchemaGenerator(urlconf="tests.api.urls").get_schema(request=None, public=True)


def test_it_declares_the_x_authorization_and_api_key_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["xAuthorization"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-authorization",
        "description": schemes["xAuthorization"]["description"],
    }
    assert schemes["apiKey"]["name"] == "x-api-key"
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"


def test_the_identity_endpoint_accepts_either_scheme_with_the_pep_scope(schema):
    operation = schema["paths"]["/api/auth/v1/player"]["post"]
    assert {"xAuthorization": []} in operation["security"]
    assert {"oauth2": ["pep"]} in operation["security"]
    assert {"apiKey": []} in operation["security"]


def test_the_identity_endpoint_has_examples_for_each_error(schema):
    responses = schema["paths"]["/api/auth/v1/player"]["post"]["responses"]
    for status in ("400", "401", "403", "429"):
        content = responses[status]["content"]["application/json"]
        assert content["schema"]["$ref"].endswith("/Error")
        assert content["examples"], status
    assert responses["200"]["content"]["application/json"]["examples"]


def test_it_describes_the_token_endpoint_with_its_errors(schema):
    responses = schema["paths"]["/oauth/token"]["post"]["responses"]
    assert responses["200"]["content"]["application/json"]["examples"]
    for status in ("400", "401"):
        content = responses[status]["content"]["application/json"]
        assert content["schema"]["$ref"].endswith("/OAuthTokenError")
        assert content["examples"], status


def test_it_leaves_the_token_endpoint_out_where_it_is_not_routed():
    paths = SchemaGenerator(urlconf="bonuses.urls").get_schema(request=None, public=True)["paths"]
    assert "/oauth/token" not in paths
