"""The sandbox playing PEP's webhook side: signed event webhooks sent to the bridge's intake.

Signed exactly as PEP does (docs/webhooks.md): headers `x-gmz-pep-webhook-timestamp` (epoch
seconds) and `x-gmz-pep-webhook-signature` = hex HMAC-SHA256(key, "<timestamp>.<body>") over
the bytes sent. The HMAC is computed here, not with the bridge's own `webhooks.security`, so a
demo run also checks the bridge against an independent signer. Standard library HTTP only:
the bridge's one PEP client (pepbridge/pep/client.py) talks to PEP, and this is PEP talking.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENT_KINDS = ("level_up", "rank_up", "product_purchase")
DEMO_PRODUCT_ID = "demo-shop-fs20"  # mapped by pepbridge/demo.py to FS-STARBURST-20
DEMO_PRODUCT_NAME = "20 free spins on Starburst"
RANKS = ("Bronze", "Silver", "Gold", "Platinum")
TIMEOUT = 10.0


def _item(key: str, value: Any, kind: str = "string") -> dict[str, Any]:
    return {"key": key, "type": kind, "value": value}


def build_event(
    kind: str,
    player: str,
    *,
    level: int = 2,
    rank: str = "Silver",
    product_id: str = DEMO_PRODUCT_ID,
    product_name: str = DEMO_PRODUCT_NAME,
    purchase_id: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """One event in PEP's webhook form; a purchase gets a new PurchaseId unless one is given."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    items = [_item("PlayerId", player)]
    if kind == "level_up":
        items += [
            _item("CurrentLevel", str(level), "number"),
            _item("XpBalance", str(level * 100), "number"),
            _item("CurrentRankExternalName", rank),
            _item(
                "RewardExternalDescription",
                {"languages": [{"language": "EN", "value": "Level reward"}]},
                "i18n",
            ),
            _item("Timestamp", moment, "date"),
        ]
    elif kind == "rank_up":
        items += [
            _item("CurrentRankExternalName", rank),
            _item("CurrentRankExternalDescription", f"Welcome to {rank}"),
            _item("Timestamp", moment, "date"),
        ]
    elif kind == "product_purchase":
        items += [
            _item("ProductId", product_id),
            _item("ProductName", product_name),
            _item("PurchaseId", purchase_id or f"sandbox-{uuid.uuid4()}"),
            _item("Price", "100", "number"),
        ]
    else:
        raise ValueError(f"unknown event {kind!r}; one of {', '.join(EVENT_KINDS)}")
    return {"eventName": kind, "payload": items, "eventDate": moment}


def signed_headers(key: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    signature = hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "x-gmz-pep-webhook-timestamp": stamp,
        "x-gmz-pep-webhook-signature": signature,
    }


@dataclass(frozen=True)
class Sent:
    """One webhook request and the bridge's answer (status 0: no answer)."""

    at: datetime
    events: tuple[str, ...]
    player: str
    status: int
    answer: str


def send(url: str, key: str, events: list[dict[str, Any]]) -> Sent:
    """POST the events to the bridge, signed; never raises for an HTTP or network failure."""
    body = json.dumps({"events": events}, separators=(",", ":")).encode()
    request = urllib.request.Request(  # noqa: S310 (a URL the operator configured)
        url, data=body, headers=signed_headers(key, body), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            status, text = answer.status, answer.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read(2000).decode(errors="replace")
    except (OSError, ValueError) as exc:
        status, text = 0, f"{type(exc).__name__}: {exc}"
    player = next((i["value"] for e in events for i in e["payload"] if i["key"] == "PlayerId"), "")
    names = tuple(str(e["eventName"]) for e in events)
    return Sent(datetime.now(UTC), names, str(player), status, text)


@dataclass
class WebhookSender:
    """The sandbox's sender: where to, with which key; remembers the last sends for its page.

    Levels count up and ranks cycle per player, so repeated clicks look like a player's progress.
    """

    url: str
    key: str
    sent: deque[Sent] = field(default_factory=lambda: deque(maxlen=20))
    _levels: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send_kind(self, kind: str, player: str) -> Sent:
        with self._lock:
            step = next(self._levels.setdefault(player, itertools.count(2)))
        event = build_event(kind, player, level=step, rank=RANKS[(step - 2) % len(RANKS)])
        result = send(self.url, self.key, [event])
        with self._lock:
            self.sent.append(result)
        return result

    def recent(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)
