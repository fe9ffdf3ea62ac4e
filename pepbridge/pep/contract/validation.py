"""The validation engine: check a payload against a Spec, collecting errors by dotted path.

Payloads are checked as `pepbridge.pep.wire.loads` returns them: numbers are Decimal or int.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pepbridge.pep.contract.spec import Errors, Field, Spec

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_body(spec: Spec | None, payload: Any) -> Errors:
    """Errors of `payload` against `spec` keyed by dotted path, {} if valid; None takes no body."""
    errors: Errors = {}
    if spec is None:
        if payload not in (None, b"", ""):
            errors[""] = ["this endpoint takes no body"]
        return errors
    _check_object(spec, payload, "", errors)
    return errors


def _join(prefix: str, name: str | int) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _check_object(spec: Spec, value: Any, path: str, errors: Errors) -> None:
    if not isinstance(value, Mapping):
        _add(errors, path, "must be an object")
        return
    known = {item.name for item in spec.fields}
    for item in spec.fields:
        here = _join(path, item.name)
        if item.name not in value:
            if item.required:
                _add(errors, here, "is required")
            continue
        _check_value(item, value[item.name], here, errors)
    if spec.closed:
        for name in value:
            if name not in known:
                _add(errors, _join(path, name), "is not a known property")
    for rule in spec.rules:
        for name, messages in rule(spec, value).items():
            for message in messages:
                _add(errors, _join(path, name) if name else path, message)


def _check_value(item: Field, value: Any, path: str, errors: Errors) -> None:
    if value is None:
        if not item.nullable:
            _add(errors, path, "must not be null (omit the property instead)")
        return
    message = _CHECKS[item.type](item, value, path, errors)
    if message:
        _add(errors, path, message)


def _check_string(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not item.blank and not value.strip():
        return "must not be blank"
    if item.pattern is not None and not item.pattern.match(value):
        return item.pattern_hint or f"must match {item.pattern.pattern}"
    return None


def _check_number(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return "must be a number"
    if isinstance(value, Decimal) and not value.is_finite():
        return "must be a finite number"
    if item.minimum is not None:
        if item.exclusive_minimum and value <= item.minimum:
            return f"must be greater than {item.minimum}"
        if value < item.minimum:
            return f"must be at least {item.minimum}"
    return None


def _check_integer(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    return _check_number(item, value, path, errors)


def _check_boolean(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    return None if isinstance(value, bool) else "must be a boolean"


def _check_datetime(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    hint = "must be a UTC timestamp like 2024-05-01T12:34:56.789Z"
    if not isinstance(value, str) or not _DATETIME.match(value):
        return hint
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        return hint
    return None


def _check_date(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return "must be a date like 2024-05-01"
    try:
        date.fromisoformat(value)
    except ValueError:
        return "must be a date like 2024-05-01"
    return None


def _check_enum(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    if isinstance(value, str) and value in item.choices:
        return None
    return "must be one of " + ", ".join(item.choices)


def _check_array(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    if not isinstance(value, list):
        return "must be an array"
    if len(value) < item.min_items:
        return f"must have at least {item.min_items} item(s)"
    if item.max_items is not None and len(value) > item.max_items:
        return f"must have at most {item.max_items} items"
    for index, element in enumerate(value):
        here = _join(path, index)
        if item.spec is not None:
            _check_object(item.spec, element, here, errors)
        elif item.items is not None:
            _check_value(Field("", "", item.items), element, here, errors)
    return None


def _check_object_field(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    _check_object(item.spec or Spec(fields=(), closed=False), value, path, errors)
    return None


def _check_any(item: Field, value: Any, path: str, errors: Errors) -> str | None:
    return None


_CHECKS: dict[str, Callable[[Field, Any, str, Errors], str | None]] = {
    "string": _check_string,
    "number": _check_number,
    "integer": _check_integer,
    "boolean": _check_boolean,
    "datetime": _check_datetime,
    "date": _check_date,
    "enum": _check_enum,
    "array": _check_array,
    "object": _check_object_field,
    "any": _check_any,
}
