"""The sandbox's "operator platform": receives what the bridge forwards, and shows it.

`POST /_sandbox/operator` stands in for the operator's own system subscribed in the admin (the
demo subscribes it). It verifies the Standard Webhooks signature with its own code, not the
bridge's (an independent check, as the sandbox signs PEP's webhooks independently): `v1,` +
base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" under the secret's key, within
five minutes. `GET /_sandbox/operator` lists what arrived, newest first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from pepbridge.sandbox.responses import Request, Response

TOLERANCE_SECONDS = 300
KEEP = 500
# Where demo_setup keeps the demo subscription's secret, under VAR_DIR/dev-secrets/.
SECRET_FILE = "operator-webhook-secret"  # noqa: S105  (a file name)


def secret_reader(path: Path) -> Callable[[], str | None]:
    """Read the secret from `path` on each call (None while there is no file)."""

    def read() -> str | None:
        return path.read_text().strip() if path.exists() else None

    return read


@dataclass(frozen=True)
class Forwarded:
    at: datetime
    webhook_id: str
    event_type: str
    player: str
    verdict: str  # "verified", "bad signature", "not checked (no secret)"
    body: str


class OperatorInbox:
    """What the operator platform received; `secret` is read on each request (None: unknown)."""

    def __init__(self, secret: Callable[[], str | None] = lambda: None) -> None:
        self._secret = secret
        self._items: deque[Forwarded] = deque(maxlen=KEEP)
        self._lock = threading.Lock()

    def items(self) -> list[Forwarded]:
        with self._lock:
            return list(self._items)

    def receive(self, request: Request) -> Response:
        secret = self._secret()
        headers = {key.lower(): value for key, value in request.headers.items()}
        if secret is None:
            verdict = "not checked (no secret)"
        elif verify(secret, headers, request.body, now=time.time()):
            verdict = "verified"
        else:
            verdict = "bad signature"
        event_type, player = _summary(request.body)
        item = Forwarded(
            datetime.now(UTC), headers.get("webhook-id", "")[:100], event_type, player, verdict,
            request.body[:20_000].decode("utf-8", errors="replace"),
        )  # fmt: skip
        with self._lock:
            self._items.append(item)
        return Response(401 if verdict == "bad signature" else 204, content_type="")

    def page(self) -> Response:
        rows = "".join(_row(item) for item in reversed(self.items()))
        html = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta http-equiv='refresh' content='3'><title>Operator platform</title>"
            "<style>body{font:14px system-ui,sans-serif;margin:1.5em}"
            "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;"
            "vertical-align:top}table{border-collapse:collapse;width:100%}"
            "pre{font-size:12px;margin:4px 0}.ok{color:#17702a}.bad{color:#b3261e}</style>"
            "</head><body><h1>Operator platform (sandbox)</h1>"
            "<p>What the bridge forwarded to its webhook subscription, newest first. "
            "<a href='/_sandbox/'>PEP sandbox</a></p><table><thead><tr><th>time (UTC)</th>"
            "<th>type</th><th>player</th><th>signature</th><th>webhook-id / body</th></tr>"
            f"</thead><tbody>{rows or _EMPTY}</tbody></table></body></html>"
        )
        return Response(200, html.encode(), content_type="text/html; charset=utf-8")


_EMPTY = "<tr><td colspan='5'>nothing forwarded yet</td></tr>"


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float) -> bool:
    """Standard Webhooks verification (headers lower-cased)."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        stamp = int(headers.get("webhook-timestamp", ""))
    except (binascii.Error, ValueError):
        return False
    if abs(now - stamp) > TOLERANCE_SECONDS:
        return False
    signed = f"{headers.get('webhook-id', '')}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.partition(",") for part in headers.get("webhook-signature", "").split()]
    return any(
        version == "v1" and hmac.compare_digest(value, expected) for version, _, value in offered
    )


def _summary(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
        event_type = str(data.get("type", ""))
        player = str((data.get("data") or {}).get("playerId") or "")
    except (ValueError, AttributeError):
        return "(not JSON)", ""
    return event_type[:140], player[:128]


def _row(item: Forwarded) -> str:
    css = "ok" if item.verdict == "verified" else "bad"
    return (
        f"<tr><td>{item.at:%H:%M:%S}</td><td>{escape(item.event_type)}</td>"
        f"<td>{escape(item.player or '-')}</td><td class='{css}'>{escape(item.verdict)}</td>"
        f"<td><details><summary><code>{escape(item.webhook_id)}</code></summary>"
        f"<pre>{escape(item.body)}</pre></details></td></tr>"
    )
