"""System checks for the inbound API settings: fail at start-up, not on the first request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from pepbridge.api.throttling import parse_rate

BUILTIN_VALIDATOR = "pepbridge.api.identity.validate_signed_token"


@checks.register(checks.Tags.security)
def check_api_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    try:
        parse_rate(settings.API_THROTTLE_RATE)
    except ImproperlyConfigured as exc:
        messages.append(checks.Error(str(exc), id="pepbridge.api.E001"))
    try:
        import_string(settings.PLAYER_IDENTITY_VALIDATOR)
    except ImportError as exc:
        message = f"PLAYER_IDENTITY_VALIDATOR cannot be imported: {exc}"
        messages.append(checks.Error(message, id="pepbridge.api.E002"))
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_identity_secret(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.PLAYER_IDENTITY_VALIDATOR != BUILTIN_VALIDATOR or settings.PLAYER_IDENTITY_SECRET:
        return []
    return [
        checks.Warning(
            "PLAYER_IDENTITY_SECRET is not set: POST /api/auth/v1/player refuses every token.",
            hint="Set it (or PLAYER_IDENTITY_SECRET_FILE), or plug in PLAYER_IDENTITY_VALIDATOR.",
            id="pepbridge.api.W001",
        )
    ]
