"""Input rules the serializers enforce but drf-spectacular cannot derive: added to the schema.

The fuzzer (.ci/fuzz) generates requests from the schema, so a rule that holds in code but not
in the schema is a disagreement PEP's developers would also trip over. These cannot be
written as field arguments:

- `players` of a reconciliation request must not be empty (`allow_empty=False` on a nested
  `many=True` serializer emits no `minItems`);
- assign-bonus names its players by `playerId` or `playerIds` (exactly one: a string never
  equals a list) and its bonus by `bonusId` or `bonusOfferId` (at least one; both must agree);
- an ingestion batch takes any item: each event is validated on its own and a bad one is
  answered `rejected` in the batch's 202, so the items are `IngestEvent` *or anything* (a
  schema that required every item to be an event made the 202 a "schema-violating request
  accepted");
- migration feedback with `errorsTotal > 0` must carry a `detailsURL` (operator-api.md §6: the
  operator downloads it to learn which players failed): a conditional, written as `oneOf` on
  `errorsTotal`.

And two answers every operation with a body may give before its view runs, stated once here:
411 for a chunked body (pepbridge.api.middleware) and 413 for a body past the limit
(pepbridge.api.parsers), both in the error shape.
"""

from __future__ import annotations

from typing import Any

from pepbridge.api.exception_handler import error_body
from pepbridge.api.middleware import LENGTH_REQUIRED

_FEEDBACK_BRANCHES = [
    {"properties": {"errorsTotal": {"maximum": 0}}},
    {
        "properties": {"errorsTotal": {"minimum": 1}, "detailsURL": {"minLength": 1}},
        "required": ["detailsURL"],
    },
]


def _players_not_empty(schema: dict[str, Any]) -> None:
    schema["properties"]["players"]["minItems"] = 1


def _details_when_errors(schema: dict[str, Any]) -> None:
    schema["oneOf"] = _FEEDBACK_BRANCHES


def _one_player_key_some_bonus_key(schema: dict[str, Any]) -> None:
    schema["allOf"] = [
        {"oneOf": [{"required": ["playerId"]}, {"required": ["playerIds"]}]},
        {"anyOf": [{"required": ["bonusId"]}, {"required": ["bonusOfferId"]}]},
    ]


_ANY_ITEM = {
    "description": "Any other value: refused on its own, as a `rejected` result of the batch."
}


def _batch_items_checked_one_by_one(schema: dict[str, Any]) -> None:
    events = schema["properties"]["events"]
    events["items"] = {"anyOf": [events["items"], _ANY_ITEM]}


RULES = {
    "BatchInput": _batch_items_checked_one_by_one,
    "AssignBonusInput": _one_player_key_some_bonus_key,
    "ReconciliationPlayersRequest": _players_not_empty,
    "PlayersMigrationFeedback": _details_when_errors,
}


_BODY_ERRORS = {
    "411": ("Chunked body: send it with a Content-Length", error_body(411, LENGTH_REQUIRED)),
    "413": (
        "Body over the size limit",
        error_body(
            413, "The body is over the limit of 2,621,440 bytes. Split it into smaller requests."
        ),
    ),
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _body_errors(result: dict[str, Any]) -> None:
    """Add 411 and 413 to every DRF operation that takes a body (the token endpoint is not)."""
    for path, operations in result.get("paths", {}).items():
        if path.startswith("/oauth/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for code, (description, example) in _BODY_ERRORS.items():
                content = {"schema": _ERROR_REF, "examples": {"Refused": {"value": example}}}
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": content}}
                )


def add_input_rules(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: apply RULES to the components this schema has."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, rule in RULES.items():
        if name in schemas:
            rule(schemas[name])
    if "Error" in schemas:
        _body_errors(result)
    return result
