"""The OpenAPI description: generated without a warning, valid, and every endpoint has examples."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

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


def test_the_error_shape_is_one_component(generated):
    schema, _ = generated
    names = [name for name in schema["components"]["schemas"] if "error" in name.lower()]
    assert names == ["Error"]


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
    assert documented == set(OPERATIONS)
