"""The contract's building blocks: a JSON property, an object of them, a Platform API operation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Errors = dict[str, list[str]]
Rule = Callable[[Mapping[str, Any]], Errors]


@dataclass(frozen=True)
class Field:
    """One JSON property: wire name, type and the checks PEP (or our choice) applies to it."""

    name: str
    type: str  # string number integer boolean datetime date enum array object any
    required: bool = True
    choices: tuple[str, ...] = ()
    spec: Spec | None = None  # the items of an array of objects, or an object's properties
    items: str | None = None  # the scalar item type of an array ("string")
    minimum: Decimal | None = None
    exclusive_minimum: bool = False
    pattern: re.Pattern[str] | None = None
    pattern_hint: str = ""
    blank: bool = True  # False: a string must hold something besides spaces
    nullable: bool = False
    min_items: int = 0
    max_items: int | None = None


@dataclass(frozen=True)
class Spec:
    """An object's properties plus the rules that span several of them."""

    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    # closed: unknown properties are errors, so a misspelt field fails in our tests, not at PEP.
    closed: bool = True


@dataclass(frozen=True)
class Endpoint:
    """One Platform API operation. `confidence` is the contract tag of its path (DOC/PEER/INF)."""

    key: str
    method: str
    path: str
    success_status: int
    body: Spec | None
    confidence: str
    gzip: bool = False
    auth: bool = True
    path_params: tuple[str, ...] = field(default=())
