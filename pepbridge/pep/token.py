"""The PEP access-token cache: in memory per process, in the database per deployment.

One process at a time refreshes the token. It wins a compare-and-set "refresh lease" (an UPDATE
that only matches when the lease is free or expired, checked by rowcount), fetches the token
outside any transaction and stores it; the others poll the row briefly and then use the new
token. That behaves the same on SQLite and PostgreSQL and never holds a lock across HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from pepbridge.pep import wire
from pepbridge.pep.errors import PepPermanentError, PepTransientError
from pepbridge.pep.models import PepToken

POLL_INTERVAL = 0.05  # seconds between a waiting process's reads of the token row


@dataclass(frozen=True)
class FetchedToken:
    """What the token endpoint gave us, with the expiry already worked out."""

    value: str = field(repr=False)
    lifetime: float  # seconds
    source: str  # "expiresIn", "jwt_exp" or "default": how the lifetime was found


@dataclass(frozen=True)
class CachedToken:
    value: str = field(repr=False)
    generation: int | None  # None: not stored in the database (lost the lease meanwhile)
    fetched_at: datetime
    refresh_after: datetime
    expires_at: datetime

    def is_fresh(self, now: datetime) -> bool:
        return now < self.refresh_after

    def is_usable(self, now: datetime) -> bool:
        return now < self.expires_at


def cache_key(base_url: str, client_id: str) -> str:
    return hashlib.sha256(f"{base_url}\n{client_id}".encode()).hexdigest()


def parse_token_response(body: bytes, *, now: datetime, default_lifetime: float) -> FetchedToken:
    """Read `accessToken` and its lifetime: `expiresIn`, else the JWT `exp`, else the default.

    A 200 without a usable `accessToken` means we are not talking to PEP's token endpoint
    (wrong base URL, a proxy page): a configuration fault, so permanent.
    """
    try:
        data = wire.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    token = data.get("accessToken") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise PepPermanentError(
            "PEP token endpoint answered without an accessToken", error_class="token_malformed"
        )
    expires_in = _positive_number(data.get("expiresIn"))
    if expires_in is not None:
        return FetchedToken(token, expires_in, "expiresIn")
    exp = _jwt_exp(token)
    if exp is not None:
        return FetchedToken(token, max(exp - now.timestamp(), 0.0), "jwt_exp")
    return FetchedToken(token, default_lifetime, "default")


def _positive_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _jwt_exp(token: str) -> float | None:
    """Return the JWT `exp` claim without verifying the signature (we only need a hint)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return _positive_number(claims.get("exp")) if isinstance(claims, dict) else None


class TokenCache:
    """Hand out a valid token, refreshing it through `fetch` when it is due.

    `clock` and `sleep` are injectable so tests can move time without sleeping.
    """

    def __init__(
        self,
        *,
        key: str,
        fetch: Callable[[], FetchedToken],
        refresh_margin: float,
        lease_seconds: float,
        clock: Callable[[], datetime] = timezone.now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.fetch = fetch
        self.refresh_margin = refresh_margin
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.sleep = sleep
        self._memory: CachedToken | None = None
        self._lock = threading.Lock()
        self._owner = uuid.uuid4().hex

    def __repr__(self) -> str:
        return f"<TokenCache {self.key[:8]}>"

    def get(self) -> CachedToken:
        """Return a token that is not due for refresh, or still valid while another refreshes."""
        memory = self._memory
        if memory is not None and memory.is_fresh(self.clock()):
            return memory
        # One thread per process goes to the database; the others find memory fresh after it.
        with self._lock:
            memory = self._memory
            if memory is not None and memory.is_fresh(self.clock()):
                return memory
            self._memory = self._from_database()
            return self._memory

    def peek(self) -> CachedToken | None:
        """This process's copy, without checking or refreshing it."""
        return self._memory

    def invalidate(self, token: CachedToken) -> None:
        """Drop `token` after PEP rejected it, unless another process already replaced it."""
        with self._lock:
            if self._memory is not None and self._memory.value == token.value:
                self._memory = None
        if token.generation is not None:
            PepToken.objects.filter(key=self.key, generation=token.generation).update(
                access_token="", refresh_after=None, expires_at=None
            )

    def age_seconds(self) -> float | None:
        """Seconds since the current token was fetched; None if there is none."""
        row = PepToken.objects.filter(key=self.key).first()
        token = self._memory or (self._stored_token(row) if row else None)
        if token is None:
            return None
        return max((self.clock() - token.fetched_at).total_seconds(), 0.0)

    def _from_database(self) -> CachedToken:
        # Longer than a lease: a holder that died mid-request is replaced before we give up.
        deadline = self.clock() + timedelta(seconds=self.lease_seconds + 1.0)
        while True:
            stored = self._stored_token(self._row())
            now = self.clock()
            if stored is not None and stored.is_fresh(now):
                return stored
            generation = self._take_lease(now)
            if generation is not None:
                return self._refresh(generation)
            # Someone else is refreshing: an old token that has not expired yet still works.
            if stored is not None and stored.is_usable(now):
                return stored
            if now > deadline:
                raise PepTransientError(
                    "timed out waiting for another process to refresh the PEP token",
                    error_class="token_wait",
                )
            self.sleep(POLL_INTERVAL)

    def _row(self) -> PepToken:
        row, _ = PepToken.objects.get_or_create(key=self.key)
        return row

    def _stored_token(self, row: PepToken) -> CachedToken | None:
        if not row.access_token or not (row.fetched_at and row.refresh_after and row.expires_at):
            return None
        return CachedToken(
            row.access_token, row.generation, row.fetched_at, row.refresh_after, row.expires_at
        )

    def _take_lease(self, now: datetime) -> int | None:
        """Win the refresh lease; return the row's generation then, None if someone holds it."""
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        # Still due: a process that read the row before another stored a fresh token and freed
        # the lease would otherwise win the freed lease and fetch a second token.
        due = Q(refresh_after__isnull=True) | Q(refresh_after__lte=now)
        taken = PepToken.objects.filter(free, due, key=self.key).update(
            lease_until=now + timedelta(seconds=self.lease_seconds), lease_owner=self._owner
        )
        if taken != 1:
            return None
        # Only the lease holder stores, so the generation cannot move until we release it.
        return PepToken.objects.values_list("generation", flat=True).get(key=self.key)

    def _refresh(self, generation: int) -> CachedToken:
        try:
            fetched = self.fetch()
        except BaseException:
            self._release_lease()
            raise
        return self._store(fetched, generation + 1)

    def _release_lease(self) -> None:
        PepToken.objects.filter(key=self.key, lease_owner=self._owner).update(
            lease_until=None, lease_owner=""
        )

    def _store(self, fetched: FetchedToken, generation: int) -> CachedToken:
        now = self.clock()
        # Refresh `refresh_margin` before expiry, but never later than half-way through a
        # short-lived token's life, so a lifetime below the margin does not refetch every call.
        early = min(self.refresh_margin, fetched.lifetime / 2)
        expires_at = now + timedelta(seconds=fetched.lifetime)
        refresh_after = expires_at - timedelta(seconds=early)
        mine = PepToken.objects.filter(key=self.key, lease_owner=self._owner)
        stored = mine.update(
            access_token=fetched.value,
            generation=generation,
            fetched_at=now,
            refresh_after=refresh_after,
            expires_at=expires_at,
            lease_until=None,
            lease_owner="",
        )
        # stored == 0: our lease expired and another process took over; keep ours in memory only.
        kept = generation if stored == 1 else None
        return CachedToken(fetched.value, kept, now, refresh_after, expires_at)
