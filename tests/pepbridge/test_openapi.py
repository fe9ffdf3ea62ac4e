"""The OpenAPI description: generated without a warning, valid, every endpoint with examples
(/oauth/token included), and the docs page that shows it, without a CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from pepbridge.api.services import api_key_create, oauth_client_create

# Every operation PEP (Operator API) or the operator's platform (ingestion API) calls.
OPERATIONS = [
    ("/api/auth/v1/player", "post"),
    ("/api/bonus/v1/assign-bonus", "post"),
    ("/api/bonus/v1/bonuses", "get"),
    ("/api/reconciliation/v1/players", "post"),
    ("/api/players/v1/migration/feedback", "post"),
    ("/ingest/v1/players", "post"),
    ("/ingest/v1/players/{player_id}", "get"),
    ("/ingest/v1/players/{player_id}", "patch"),
    ("/ingest/v1/players/{player_id}", "delete"),
    ("/ingest/v1/events", "post"),
    ("/ingest/v1/events/batch", "post"),
    ("/api/webhooks/v1/pep-events", "post"),
]


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    """The schema and the warnings and errors drf-spectacular emitted while generating it."""
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


def _examples(operation: dict[str, Any]) -> list[str]:
    """Where the operation has examples: its request body and its answers."""
    found = []
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        if content.get("examples"):
            found.append(f"request {media_type}")
    for code, answer in operation["responses"].items():
        if answer.get("content", {}).get("application/json", {}).get("examples"):
            found.append(code)
    return found


def test_it_generates_the_schema_without_warnings_or_errors(generated):
    _, problems = generated
    assert problems == []


def test_the_schema_is_valid_openapi(generated):
    schema, _ = generated
    validate_schema(schema)  # raises on an invalid document


def test_the_error_shape_is_one_component_besides_the_token_endpoints_rfc_6749_one(generated):
    schema, _ = generated
    names = [name for name in schema["components"]["schemas"] if "error" in name.lower()]
    # /oauth/token keeps RFC 6749's `error` code for OAuth clients (docs/contract.md).
    assert sorted(names) == ["Error", "OAuthTokenError"]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_endpoint_is_described_with_an_example(generated, path, method):
    schema, _ = generated
    operation = schema["paths"][path][method]
    assert _examples(operation), f"{method.upper()} {path} has no example"


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_documented_error_has_the_error_shape_and_an_example(generated, path, method):
    operation = generated[0]["paths"][path][method]
    for code, answer in operation["responses"].items():
        if int(code) < 400:
            continue
        content = answer["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, code)
        assert content["examples"], (path, code)


def test_no_operation_is_left_out_of_the_list(generated):
    schema, _ = generated
    documented = {
        (path, method)
        for path, operations in schema["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert documented == {*OPERATIONS, ("/oauth/token", "post")}


# --- /oauth/token (django-oauth-toolkit's view, described by pepbridge.api.schema_token) -----


def _token_operation(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["paths"]["/oauth/token"]["post"]


def test_the_token_endpoint_is_a_path_of_the_schema(generated):
    schema, _ = generated
    assert "post" in schema["paths"]["/oauth/token"]
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"


def test_the_token_endpoint_shows_the_form_basic_and_json_requests(generated):
    operation = _token_operation(generated[0])
    content = operation["requestBody"]["content"]
    form = content["application/x-www-form-urlencoded"]["examples"]
    assert form["Form"]["value"]["grant_type"] == "client_credentials"
    assert set(form["Basic"]["value"]) == {"grant_type"}  # the credentials are in the header
    assert {"Json", "JsonCamelCase"} <= set(content["application/json"]["examples"])
    assert {"clientBasic": []} in operation["security"]
    assert generated[0]["components"]["securitySchemes"]["clientBasic"]["scheme"] == "basic"


def test_the_token_endpoint_has_an_example_for_each_answer(generated):
    responses = _token_operation(generated[0])["responses"]
    assert set(responses) == {"200", "400", "401", "405"}
    for code, answer in responses.items():
        assert answer["content"]["application/json"]["examples"], code
    for code in ("400", "401"):
        schema_ref = responses[code]["content"]["application/json"]["schema"]
        assert schema_ref == {"$ref": "#/components/schemas/OAuthTokenError"}


def _documented_example(schema: dict[str, Any], code: str, name: str) -> dict[str, Any]:
    return _token_operation(schema)["responses"][code]["content"]["application/json"]["examples"][
        name
    ]["value"]


@pytest.mark.django_db
def test_the_token_examples_have_the_shape_the_endpoint_really_answers(generated):
    issued = oauth_client_create(name="PEP", scope="pep")
    form = {"grant_type": "client_credentials", "client_id": issued.client_id}
    token = Client().post("/oauth/token", {**form, "client_secret": issued.client_secret})
    refused = Client().post("/oauth/token", {**form, "client_secret": "x" * 43})

    schema = generated[0]
    assert set(token.json()) == set(_documented_example(schema, "200", "Token"))
    assert refused.status_code == 401
    assert refused.json() == _documented_example(schema, "401", "InvalidClient")


# --- the interactive page ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_our_static_files_not_a_cdn():
    staff = Client()
    staff.force_login(get_user_model().objects.create_user("ops", is_staff=True))
    page = staff.get("/api/docs/")  # staff and API credentials only (test_schema_access below)
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    assert any(url.endswith("swagger-ui.css") for url in assets)
    for url in assets:
        assert url.startswith(settings.STATIC_URL), url  # "/static/", served by the bridge
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not shipped"
    assert not re.search(r"https?://", html)  # nothing from the internet


# --- who may read it ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_need_a_credential_or_a_staff_login(url):
    assert Client().get(url).status_code == 401
    player = Client()
    player.force_login(get_user_model().objects.create_user("not-staff"))
    assert player.get(url).status_code == 403
    staff = Client()
    staff.force_login(get_user_model().objects.create_user("staff", is_staff=True))
    assert staff.get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["pep", "ingest"])
def test_any_valid_api_credential_may_read_the_schema(scope):
    key = api_key_create(name=f"key-{scope}", scope=scope).api_key
    answer = Client().get("/api/schema/", HTTP_X_API_KEY=key)
    assert answer.status_code == 200
    assert b"/api/bonus/v1/assign-bonus" in answer.content
    assert Client().get("/api/schema/", HTTP_X_API_KEY="nope").status_code == 401
