"""Fault injection for the sandbox: what can go wrong on one endpoint, decided reproducibly."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any

_RATES = ("error_rate", "throttle_rate", "drop_rate")


@dataclass
class Fault:
    """Faults for one message type (or "*"). Rates are shares of requests, from 0 to 1.

    A `seed` makes the sequence of decisions reproducible; without it they are random.
    `expire_tokens` is one-shot: the next authenticated call revokes every token (answered 401).
    """

    error_rate: float = 0.0
    status: int = 500
    throttle_rate: float = 0.0
    retry_after: int = 1
    delay_ms: int = 0
    drop_rate: float = 0.0
    expire_tokens: bool = False
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
        if not isinstance(self.status, int) or not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {self.status!r}")
        for name in ("retry_after", "delay_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if not isinstance(self.expire_tokens, bool):
            raise ValueError("expire_tokens must be true or false")
        # Not for security: a seeded generator makes a fault run repeatable.
        self._rng = random.Random(self.seed)  # noqa: S311
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Fault:
        """Build from keyword options (as sent over HTTP), refusing unknown names."""
        known = {item.name for item in fields(cls) if item.init}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(unknown)}")
        return cls(**options)

    def draw(self) -> str | None:
        """Decide this request's fate: "drop", "throttle", "error" or None (answer normally).

        Each configured rate takes one draw per request in a fixed order, so a seed gives the
        same decisions for the same sequence of requests.
        """
        with self._lock:
            rolls = {name: self._rng.random() for name in _RATES if getattr(self, name) > 0}
        for name, outcome in (("drop_rate", "drop"), ("throttle_rate", "throttle")):
            if name in rolls and rolls[name] < getattr(self, name):
                return outcome
        if "error_rate" in rolls and rolls["error_rate"] < self.error_rate:
            return "error"
        return None

    def take_expire_tokens(self) -> bool:
        """Consume the one-shot token expiry; True for exactly one caller."""
        with self._lock:
            if not self.expire_tokens:
                return False
            self.expire_tokens = False
            return True

    def as_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self) if item.init}
