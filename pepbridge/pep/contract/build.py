"""Wire bodies from our names: builders and the sandbox's examples write attrs, this writes PEP's.

With it a wire name is written once, on its spec's line in `bodies`, and renaming it there
renames it in every body the bridge sends and every example the sandbox shows.
"""

from __future__ import annotations

from typing import Any

from pepbridge.pep.contract.spec import Field, Spec


def wire_body(spec: Spec, /, **values: Any) -> dict[str, Any]:
    """The wire body for `values` (attr → value), keys in the order the caller gives them.

    A None is left out (PEP gets the field or nothing, never null) except on a nullable field,
    the profile's, where null means "clear it". Objects and the items of arrays of objects are
    given as attr-keyed mappings and translated the same way; an object whose spec names no
    properties (the CRM trigger's `external`) passes through as given. An attr the spec does not
    know is a KeyError: a misspelt name fails where it is written, not at PEP.
    """
    body: dict[str, Any] = {}
    for attr, value in values.items():
        item = spec.field(attr)
        if value is None and not item.nullable:
            continue
        body[item.name] = _wire_value(item, value)
    return body


def _wire_value(item: Field, value: Any) -> Any:
    nested = item.spec
    if nested is None or not nested.fields or value is None:
        return value
    if item.type == "array":
        return [wire_body(nested, **element) for element in value]
    return wire_body(nested, **value)
