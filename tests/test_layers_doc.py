"""The layer picture in docs/architecture.md is the one import-linter enforces.

CI runs `lint-imports` against the contracts in pyproject.toml; nothing would notice if the
picture people read drifted from them. Here it is read back (one layer per line of its code block,
a line ending in ":" or "|" continued on the next) and compared with the `layers` contract.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Module names start at this column of the picture; the label ("ground") and the layer
# arrows sit left of it, the notes in parentheses to the right of the names.
NAMES_AT = 14


def _contract_layers() -> list[tuple[frozenset[str], bool]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = (c for c in config["contracts"] if c["id"] == "layers")
    return [_parse(text) for text in layers["layers"]]


def _parse(text: str) -> tuple[frozenset[str], bool]:
    """Names and whether they are independent; "pepbridge.urls : health" means pepbridge.health."""
    independent = "|" in text
    names = [name.strip() for name in re.split(r"[|:]", text)]
    prefix = names[0].rpartition(".")[0]
    full = [name if "." in name or not prefix else f"{prefix}.{name}" for name in names]
    return frozenset(full), independent


def _pictured_layers() -> list[tuple[frozenset[str], bool]]:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("\n## Layers\n", 1)[1]
    picture = section.split("```\n", 2)[1]
    texts: list[str] = []
    for line in picture.splitlines():
        if len(line) <= NAMES_AT or line[NAMES_AT] == " ":
            continue  # an arrow, or a note continued from the line above
        names = line[NAMES_AT:].split("  (")[0].strip()
        if texts and texts[-1].endswith((":", "|")):
            texts[-1] = f"{texts[-1]} {names}"
        else:
            texts.append(names)
    return [_parse(text) for text in texts]


def test_the_architecture_picture_draws_the_layers_contract() -> None:
    assert _pictured_layers() == _contract_layers()


def test_the_picture_is_read_as_drawn() -> None:
    # A guard on the reader itself: the top and the bottom layer as the picture draws them.
    pictured = _pictured_layers()
    assert "pepbridge.dashboard" in pictured[0][0]
    assert ({"webhooks", "reconciliation"}, True) == (set(pictured[1][0]), pictured[1][1])
    assert {"pepbridge.pep", "pepbridge.test_runner"} <= pictured[-1][0]
