"""Renaming a wire field is a one-line change: the builder, the sandbox and validation follow it.

The source tree is copied, one line of the copy's contract/bodies.py is rewritten, and a fresh
interpreter in the copy builds a message with the real builder and takes the sandbox's example.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pepbridge", "events", "players", "bonuses", "reconciliation", "webhooks")
BODIES = Path("pepbridge/pep/contract/bodies.py")
OLD_LINE = '        _id("transaction_id", "transactionId"),\n'
NEW_LINE = '        _id("transaction_id", "moneyTransactionId"),\n'

SCRIPT = """
import json, sys
import django
django.setup()
from datetime import UTC, datetime
from decimal import Decimal
from django.conf import settings
import events
from events.messages import MoneyTransactionInput, build_money_transaction
from pepbridge.pep import contract, wire
from pepbridge.sandbox.examples import example

assert events.__file__.startswith(sys.argv[1]), events.__file__  # the copy, not the original
message = build_money_transaction(
    MoneyTransactionInput(
        player_id="p-1", transaction_id="mt-1", transaction_type="DEPOSIT", status="APPROVED",
        amount=Decimal("10"), currency=settings.PEP_INSTANCE_CURRENCY,
        real_balance=Decimal("10"), bonus_balance=Decimal("0"),
        occurred_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
)
built = wire.loads(message.encoded_body)
shown = example("money_transaction")
print(json.dumps({
    "built": sorted(built),
    "example": sorted(shown),
    "built_errors": contract.validate("money_transaction", built),
    "example_errors": contract.validate("money_transaction", shown),
    "old_name_errors": contract.validate(
        "money_transaction", {**{k: v for k, v in shown.items() if k != "moneyTransactionId"},
                              "transactionId": "mt-1"}
    ),
}, default=str))
"""


def _copy_tree(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=ignore)
    for name in ("manage.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, target / name)


def _rename_money_transaction_id(target: Path) -> None:
    """Rewrite the money transaction's `transactionId` line, and only that line."""
    path = target / BODIES
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("MONEY_TRANSACTION = Spec(\n")
    index = lines.index(OLD_LINE, start)
    lines[index] = NEW_LINE
    path.write_text("".join(lines), encoding="utf-8")


def _changed_lines(copy: Path) -> list[str]:
    """Every line that differs between the copied tree and the original, as a unified diff."""
    changed: list[str] = []
    for path in sorted(copy.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(copy)
        old = (ROOT / relative).read_text(encoding="utf-8", errors="replace").splitlines(True)
        new = path.read_text(encoding="utf-8", errors="replace").splitlines(True)
        for line in difflib.unified_diff(old, new, n=0):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                changed.append(f"{relative}:{line}")
    return changed


def test_renaming_a_wire_field_is_one_line_and_the_builder_and_sandbox_follow(tmp_path) -> None:
    copy = tmp_path / "src"
    _copy_tree(copy)
    _rename_money_transaction_id(copy)

    assert _changed_lines(copy) == [f"{BODIES}:-{OLD_LINE}", f"{BODIES}:+{NEW_LINE}"]

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pepbridge.settings",
        "PYTHONPATH": str(copy),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(copy)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    for body in ("built", "example"):
        assert "moneyTransactionId" in seen[body]
        assert "transactionId" not in seen[body]
    assert seen["built_errors"] == {}
    assert seen["example_errors"] == {}
    assert seen["old_name_errors"] == {
        "moneyTransactionId": ["is required"],
        "transactionId": ["is not a known property"],
    }
