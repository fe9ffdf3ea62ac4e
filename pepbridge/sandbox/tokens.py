"""OAuth tokens for the sandbox: short-lived HS256 JWTs that it can also revoke all at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issue and check bearer tokens the way PEP's token endpoint is known to: a JWT with `exp`.

    Issued token ids are remembered so `revoke_all()` can make every current token fail with 401,
    which is how the sandbox simulates PEP rotating its keys or a token expiring early.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        lifetime: int,
        clock: Callable[[], float],
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime = lifetime
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._live: dict[str, float] = {}
        self._lock = threading.Lock()

    def credentials_match(self, client_id: object, client_secret: object) -> bool:
        return (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and hmac.compare_digest(client_id.encode(), self.client_id.encode())
            and hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        )

    def issue(self) -> str:
        now = self._clock()
        claims: dict[str, Any] = {
            "sub": self.client_id,
            "iat": int(now),
            "exp": int(now) + self.lifetime,
            "jti": secrets.token_hex(8),
        }
        with self._lock:
            self._live = {jti: exp for jti, exp in self._live.items() if exp > now}
            self._live[claims["jti"]] = claims["exp"]
        return self._sign(claims)

    def _sign(self, claims: dict[str, object]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(signature)}"

    def problem(self, authorization: str | None) -> str | None:
        """Return why an Authorization header is refused, or None when it carries a live token."""
        if not authorization or not authorization.startswith("Bearer "):
            return "missing bearer token"
        claims = self._verify(authorization[len("Bearer ") :].strip())
        if claims is None:
            return "invalid token"
        if claims.get("exp", 0) <= self._clock():
            return "token expired"
        with self._lock:
            if claims.get("jti") not in self._live:
                return "token revoked"
        return None

    def _verify(self, token: str) -> dict[str, Any] | None:
        try:
            header, body, signature = token.split(".")
            expected = hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None

    def revoke_all(self) -> None:
        with self._lock:
            self._live.clear()
