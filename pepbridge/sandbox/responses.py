"""Plain request/response values passed between the sandbox's HTTP layer and its behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pepbridge.pep import wire


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


# Returned when the connection must be closed without an answer (the drop fault).
DROP = Response(status=0)


@dataclass
class StoredFile:
    data: bytes
    content_type: str
    content_encoding: str = ""


def json_response(status: int, payload: Any, **headers: str) -> Response:
    return Response(status, wire.dumps(payload), headers=dict(headers))


def error_response(status: int, message: str, details: Any = None, **headers: str) -> Response:
    """PEP's error body is unpublished; this is the rpcStatus shape its swagger names."""
    return json_response(
        status, {"code": status, "message": message, "details": details or []}, **headers
    )
