"""The per-type field table of docs/contract.md, printed from the specs so the docs cannot drift.

tests/pepbridge/test_contract_docs.py compares the committed table with `field_table()`; after a
change to `bodies`, paste the output of `python -m pepbridge.pep.contract.reference` between the
markers in docs/contract.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from pepbridge.pep.contract.spec import Field, Spec
from pepbridge.pep.contract.table import MESSAGE_TYPES, body_spec, endpoint

BEGIN = "<!-- contract-fields:begin (pepbridge.pep.contract.reference) -->"
END = "<!-- contract-fields:end -->"


def field_table() -> str:
    """Markdown: for each message type with a body, its fields (wire name, attr, type, required)."""
    lines = [BEGIN]
    for key in MESSAGE_TYPES:
        if endpoint(key).body is None:
            continue
        spec = body_spec(key)
        open_note = " Open: unknown properties pass." if not spec.closed else ""
        lines += ["", f"#### `{key}`{open_note}", ""]
        lines += ["| wire name | attr | type | required |", "|---|---|---|---|"]
        lines += _rows(spec, "", "")
    return "\n".join([*lines, "", END])


def _rows(spec: Spec, wire_prefix: str, attr_prefix: str) -> Iterator[str]:
    for item in spec.fields:
        wire, attr = wire_prefix + item.name, attr_prefix + item.attr
        required = "yes" if item.required else "no"
        yield f"| `{wire}` | `{attr}` | {_type(item)} | {required} |"
        if item.spec is not None and item.spec.fields:
            many = "[]" if item.type == "array" else ""
            yield from _rows(item.spec, f"{wire}{many}.", f"{attr}{many}.")


def _type(item: Field) -> str:
    """The type and its checks in a few words."""
    words = [item.type]
    if item.type == "enum":
        words = [" \\| ".join(f"`{choice}`" for choice in item.choices)]
    if item.type == "array":
        words.append(f"of {item.items}" if item.items else "of objects")
    if item.min_items:
        words.append(f"≥ {item.min_items} items")
    if item.max_items is not None:
        words.append(f"≤ {item.max_items:,} items")
    if item.minimum is not None:
        words.append(f"{'>' if item.exclusive_minimum else '≥'} {item.minimum}")
    if not item.blank:
        words.append("not blank")
    if item.pattern_hint:
        words.append(f"({item.pattern_hint.removeprefix('must be ')})")
    if item.nullable:
        words.append("(null clears)")
    return " ".join(words)


if __name__ == "__main__":  # pragma: no cover
    import django

    django.setup()
    print(field_table())
