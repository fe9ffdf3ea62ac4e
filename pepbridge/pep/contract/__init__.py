"""PEP's Platform API wire format, described once: the outbox builders and the sandbox both use it.

Each endpoint is keyed by a stable message type (the outbox's `message_type`). Bodies are checked
against the shapes in docs/pep-api/platform-api.md (our snapshot of PEP's contract); where PEP has
published nothing the shape is our documented choice (docs/contract.md) and the path can be
overridden with a `PEP_PATH_<KEY>` environment variable (settings.PEP_PATHS),
so fixing it needs no release.

The package: `spec` (Field, Spec, Endpoint), `bodies` (the request bodies: the one place a wire
name is written), `table` (endpoints and paths), `validation` (the engine), `build` (a wire body
from our attr names), `reference` (the per-type field table in docs/contract.md). Import from
here; the split is an implementation detail.
"""

from __future__ import annotations

from typing import Any

from pepbridge.pep.contract.bodies import MIGRATION_BATCH_MAX, PROFILE_FIELDS
from pepbridge.pep.contract.build import wire_body
from pepbridge.pep.contract.spec import Endpoint, Errors, Field, Rule, Spec
from pepbridge.pep.contract.table import (
    MESSAGE_TYPES,
    OVERRIDABLE,
    body_spec,
    endpoint,
    endpoints,
    path_for,
    resolve,
)
from pepbridge.pep.contract.validation import check_body

__all__ = [
    "MESSAGE_TYPES",
    "MIGRATION_BATCH_MAX",
    "OVERRIDABLE",
    "PROFILE_FIELDS",
    "Endpoint",
    "Errors",
    "Field",
    "Rule",
    "Spec",
    "body_spec",
    "endpoint",
    "endpoints",
    "path_for",
    "resolve",
    "validate",
    "wire_body",
]


def validate(message_type: str, payload: Any) -> Errors:
    """Check a payload against the contract; return field errors keyed by dotted path, {} if valid.

    Raises KeyError for an unknown message type. An endpoint without a body accepts only None.
    Payloads are checked as `pepbridge.pep.wire.loads` returns them: numbers are Decimal or int.
    """
    return check_body(endpoint(message_type).body, payload)
