"""The outcome of one ingested item, shared by the batch API, the loaders and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
REJECTED = "rejected"


@dataclass
class ItemResult:
    """What happened to one item: accepted (written), duplicate (already had it, nothing new),
    conflict (same id, different content: nothing written) or rejected (field errors)."""

    status: str
    key: str | None = None
    errors: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (ACCEPTED, DUPLICATE)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.key is not None:
            data["id"] = self.key
        if self.message:
            data["message"] = self.message
        if self.errors:
            data["errors"] = self.errors
        return data
