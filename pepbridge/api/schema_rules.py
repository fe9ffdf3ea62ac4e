"""Input rules the serializers enforce but drf-spectacular cannot derive: added to the schema.

The fuzzer (.ci/fuzz) generates requests from the schema, so a rule that holds in code but not
in the schema is a disagreement PEP's developers would also trip over. Two cannot be written
as field arguments:

- `players` of a reconciliation request must not be empty (`allow_empty=False` on a nested
  `many=True` serializer emits no `minItems`);
- migration feedback with `errorsTotal > 0` must carry a `detailsURL` (operator-api.md §6: the
  operator downloads it to learn which players failed): a conditional, written as `oneOf` on
  `errorsTotal`.
"""

from __future__ import annotations

from typing import Any

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


RULES = {
    "ReconciliationPlayersRequest": _players_not_empty,
    "PlayersMigrationFeedback": _details_when_errors,
}


def add_input_rules(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: apply RULES to the components this schema has."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, rule in RULES.items():
        if name in schemas:
            rule(schemas[name])
    return result
