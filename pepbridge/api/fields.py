"""Serializer fields that read JSON as the schema says, for the inbound APIs.

DRF's CharField takes a number and turns it into a string: `{"requestId": 0}` was accepted
as "0" although our OpenAPI schema (and PEP's contract) say string, so the schema and the code
disagreed (schemathesis, .ci/fuzz). A string field here takes a JSON string only.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of converting them."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def __init__(self, **kwargs: Any) -> None:
        # A blank string is refused unless allow_blank: say so in the schema (minLength).
        if not kwargs.get("allow_blank", False):
            kwargs.setdefault("min_length", 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)  # type: ignore[no-any-return]
