"""Serializer fields that read JSON as the schema says and PEP's wire format can carry.

DRF's CharField takes a number and turns it into a string: `{"requestId": 0}` was accepted
as "0" although our OpenAPI schema (and PEP's contract) say string, so the schema and the code
disagreed (schemathesis, .ci/fuzz). A string field here takes a JSON string only.
"""

from __future__ import annotations

from datetime import datetime
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
        return super().to_internal_value(data)


# PEP's timestamps have four-digit years (strftime("%Y") writes year 999 as "999"): a moment
# before year 1000 could be stored but never sent, a MessageRejected deep in a service (a 500).
MIN_YEAR = 1000


class WireDateTimeField(serializers.DateTimeField):
    """A DateTimeField that refuses moments before MIN_YEAR."""

    default_error_messages = {"too_early": f"Must be in year {MIN_YEAR} or later."}

    def to_internal_value(self, value: Any) -> datetime:
        moment: datetime = super().to_internal_value(value)
        if moment.year < MIN_YEAR:
            self.fail("too_early")
        return moment
