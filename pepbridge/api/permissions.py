"""Scope checks for the inbound APIs, for OAuth tokens and API keys alike.

A missing or invalid credential is refused earlier with 401 (authentication); a valid credential
without the scope a view needs gets 403 here.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from pepbridge.api.authentication import principal_of
from pepbridge.api.models import Scope


class ScopePermission(BasePermission):
    """Allow a request whose credential carries every scope in the view's `required_scopes`.

    A view that declares no `required_scopes` (and no subclass below) is refused: fail closed.
    """

    required_scopes: tuple[str, ...] = ()
    message = "The credential does not have the scope this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = principal_of(request)
        if principal is None:
            return False
        needed = set(self.required_scopes or getattr(view, "required_scopes", ()))
        return bool(needed) and needed <= principal.scopes


class RequiresPepScope(ScopePermission):
    """The Operator API, which PEP calls."""

    required_scopes = (Scope.PEP.value,)


class RequiresIngestScope(ScopePermission):
    """The ingestion API, which the operator's platform calls."""

    required_scopes = (Scope.INGEST.value,)
