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


class StaffOrApiCredential(BasePermission):
    """The OpenAPI schema and its docs page: back-office staff, or any valid API credential.

    The schema is not a secret, but it maps every endpoint and field an attacker would probe,
    so it is shown to those who have a reason to read it: PEP and the operator's platform (any
    scope) and logged-in staff. Anyone else gets 401 (no credential) or 403.
    """

    message = "The API description is for API clients and back-office staff."

    def has_permission(self, request: Request, view: Any) -> bool:
        if principal_of(request) is not None:
            return True
        user = getattr(request, "user", None)
        return bool(user and user.is_active and user.is_staff)
