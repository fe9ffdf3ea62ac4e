"""What the sandbox received: one record per Platform API request, shown on its page and API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pepbridge.pep import contract, wire

MASKED = "********"


@dataclass
class Record:
    """One request as the sandbox saw it. `status` is None when the connection was dropped."""

    time: datetime
    method: str
    path: str
    message_type: str | None
    status: int | None
    headers: dict[str, str]
    body: Any
    params: dict[str, str] = field(default_factory=dict)
    fault: str = ""

    @property
    def player_id(self) -> str | None:
        return player_id_of(self.body, self.params)

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "messageType": self.message_type,
            "status": self.status,
            "playerId": self.player_id,
            "headers": self.headers,
            "body": self.body,
            "params": self.params,
            "fault": self.fault,
        }


def player_id_of(body: Any, params: Mapping[str, str]) -> str | None:
    """Find the player a request is about, wherever its message type keeps the id."""
    if "playerId" in params:
        return params["playerId"]
    if not isinstance(body, Mapping):
        return None
    if isinstance(body.get("playerId"), str):
        return str(body["playerId"])
    rows = body.get("gameTransactionRound")
    if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
        return str(rows[0].get("playerId"))
    players = body.get("players")
    if isinstance(players, list):
        return f"{len(players)} players"
    return None


def mask_secret(body: Any) -> Any:
    """Hide the client secret of a token request before it is recorded or shown."""
    secret = contract.body_spec("token").wire("client_secret")
    if isinstance(body, Mapping) and secret in body:
        return {**body, secret: MASKED}
    return body


def to_json(records: list[Record]) -> bytes:
    """Encode records with Decimal amounts intact (pepbridge.pep.wire)."""
    return wire.dumps([record.as_dict() for record in records])


def pretty(value: Any, indent: int = 0) -> str:
    """Indented JSON that keeps Decimal amounts exactly as received (json.dumps cannot)."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, Mapping) and value:
        items = [f"{inner}{json.dumps(str(k))}: {pretty(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value:
        items = [inner + pretty(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return wire.dumps(value).decode()
