"""docs/contract.md's field table is the one the specs print: the docs follow the contract."""

from __future__ import annotations

from pathlib import Path

from pepbridge.pep import contract
from pepbridge.pep.contract.reference import BEGIN, END, field_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def test_the_committed_field_table_is_the_one_the_specs_print() -> None:
    text = DOCS.read_text(encoding="utf-8")
    committed = text[text.index(BEGIN) : text.index(END) + len(END)]

    assert committed == field_table(), (
        "docs/contract.md's field table is stale: paste the output of "
        "`python -m pepbridge.pep.contract.reference` between its markers"
    )


def test_the_table_lists_every_wire_name_of_every_body() -> None:
    table = field_table()

    for key in contract.MESSAGE_TYPES:
        if contract.endpoint(key).body is None:
            continue
        assert f"#### `{key}`" in table
        for item in contract.body_spec(key).fields:
            assert f"`{item.name}` | `{item.attr}` |" in table
