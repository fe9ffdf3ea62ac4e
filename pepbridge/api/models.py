"""Inbound credentials: the scope each OAuth client may ask for, and hashed API keys."""

from __future__ import annotations

import re

from django.contrib.auth.hashers import check_password
from django.db import models
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

# The sender every credential belongs to unless told otherwise: one bridge serves one PEP
# instance, so all of PEP's credentials (OAuth clients and API keys, old and new during a
# rotation) are one sender and share assign-bonus idempotency (docs/contract.md).
DEFAULT_SENDER = "pep"


# What a sender may be called: short, lower-case, readable in the admin and in logs. "legacy-"
# is kept for the rows migrations bonuses.0009/0013 set apart, so no credential shares their space.
SENDER_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
LEGACY_SENDER_PREFIX = "legacy-"


def sender_problem(sender: str) -> str | None:
    """Why `sender` cannot name a PEP instance, or None if it can."""
    if not SENDER_PATTERN.fullmatch(sender):
        return (
            "use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if sender.startswith(LEGACY_SENDER_PREFIX):
        return f"{LEGACY_SENDER_PREFIX!r} is kept for requests set apart by migrations"
    return None


def _sender_field() -> models.CharField:
    return models.CharField(
        max_length=64,
        default=DEFAULT_SENDER,
        help_text="The PEP instance this credential belongs to. Requests keep one requestId "
        "space per sender, whichever of its credentials they come with.",
    )


class Scope(models.TextChoices):
    """What a credential may call. One scope per credential: PEP never writes operator data."""

    PEP = "pep", "Operator API (PEP calls it)"
    INGEST = "ingest", "Ingestion API (the operator platform calls it)"


class ClientScope(models.Model):
    """The scope an OAuth client (DOT Application) is allowed; the toolkit's default is all."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="pepbridge_scope",
    )
    scope = models.CharField(max_length=16, choices=Scope.choices)
    sender = _sender_field()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=Scope.values), name="clientscope_known_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.scope}"


class ApiKey(models.Model):
    """A static credential (`pbk_<key_id>_<secret>`); only a salted hash of the secret is kept."""

    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=128)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    sender = _sender_field()
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=Scope.values), name="apikey_known_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def check_secret(self, secret: str) -> bool:
        return check_password(secret, self.secret_hash)
