"""Player identity: turn the casino front end's identity token into a player id (operator-api §5).

Validation is pluggable (`PLAYER_IDENTITY_VALIDATOR`, a dotted path to
`def validate(token: str) -> Identity | None`). The built-in validator accepts HS256 JWTs signed
by the operator's platform with `PLAYER_IDENTITY_SECRET`, carrying `sub` or `playerId` and `exp`.
Whether the named player exists is asked by players/identity.py, which calls the validator: the
API plumbing imports no app (docs/architecture.md, "Layers").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import jwt
from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Identity:
    player_id: str
    expires_at: datetime | None = None


Validator = Callable[[str], Identity | None]


def validate_signed_token(token: str) -> Identity | None:
    """Accept an HS256 JWT signed with PLAYER_IDENTITY_SECRET, unexpired, naming a player."""
    secret = settings.PLAYER_IDENTITY_SECRET
    if not secret:
        return None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_aud": False},
            leeway=settings.PLAYER_IDENTITY_LEEWAY,
        )
    except jwt.PyJWTError:
        return None
    player_id = claims.get("playerId") or claims.get("sub")
    if not isinstance(player_id, str) or not player_id:
        return None
    try:
        expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None  # an `exp` past year 9999 (10**12) is no date: refused like any bad token
    return Identity(player_id, expires_at)


@lru_cache(maxsize=4)
def validator(path: str) -> Validator:
    """The validator a dotted path names (`PLAYER_IDENTITY_VALIDATOR`), imported once."""
    return import_string(path)
