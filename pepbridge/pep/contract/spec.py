"""The contract's building blocks: a JSON property, an object of them, a Platform API operation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

Errors = dict[str, list[str]]
# A rule that spans several fields; it gets its spec so that it names them by attr (spec.wire).
Rule = Callable[["Spec", Mapping[str, Any]], Errors]


@dataclass(frozen=True)
class Field:
    """One JSON property: our name for it, its wire name, type and the checks PEP applies to it.

    `attr` is the stable Python-side name (snake_case) that builders, the sandbox's examples and
    the profile mapping use; `name` is PEP's, written on the spec's line and nowhere else, so a
    renamed wire property is a one-line change (docs/contract.md, "One source per wire format").
    """

    attr: str
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

    @cached_property
    def _by_attr(self) -> dict[str, Field]:
        return {item.attr: item for item in self.fields}

    def field(self, attr: str) -> Field:
        """The field called `attr` on our side; KeyError naming the known ones if there is none."""
        try:
            return self._by_attr[attr]
        except KeyError:
            known = ", ".join(self._by_attr) or "none"
            raise KeyError(f"no field {attr!r} in this spec (known: {known})") from None

    def wire(self, attr: str) -> str:
        """The wire name of `attr`: what builders name in an error key or message."""
        return self.field(attr).name

    def item(self, attr: str) -> Spec:
        """The spec of an object field, or of the items of an array-of-objects field."""
        nested = self.field(attr).spec
        if nested is None:
            raise KeyError(f"field {attr!r} has no nested spec")
        return nested


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
