"""The HTTP client for the operator's webhook subscriptions, signed per Standard Webhooks.

The sibling of `pepbridge.pep.client` (the two are the only modules that import `requests`): it
shares its pooled session setup, its timeouts (PEP_CONNECT_TIMEOUT / PEP_READ_TIMEOUT, which the
outbox's leases are sized for) and its error classes, so the outbox decides retry or dead letter
for a subscription exactly as for PEP. One attempt per call: retries belong to the outbox.

Signing (https://www.standardwebhooks.com/): `webhook-id` (stable per outbox row), `webhook-
timestamp` (unix seconds, fresh on every attempt) and `webhook-signature`, `v1,` + base64 of the
HMAC-SHA256 of "{id}.{timestamp}.{body}" under the base64-decoded secret (after `whsec_`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from django.conf import settings

from pepbridge.pep.client import EXCERPT_BYTES, TRANSIENT_4XX, parse_retry_after, pooled_session
from pepbridge.pep.errors import PepPermanentError, PepTransientError

logger = logging.getLogger("pepbridge.webhooks_out")

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
URL_MAX = 500


def secret_new() -> str:
    """A fresh signing secret in the Standard Webhooks format: whsec_ + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a whsec_ secret; ValueError when it is not one."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a whsec_ secret") from None
    if not secret.startswith(SECRET_PREFIX) or len(key) < 24:
        raise ValueError("not a whsec_ secret")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def url_problem(url: str, *, debug: bool) -> str | None:
    """Why a subscription URL must not be used (None when it is fine).

    HTTPS only, as for PEP_BASE_URL (pepbridge.E012): plain http only to a loopback host, or
    anywhere with DEBUG on (the sandbox). No user:password part (it would be shown in the
    admin and logs), no fragment, bounded length.
    """
    if len(url) > URL_MAX:
        return f"longer than {URL_MAX} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a port out of range)
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s):// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password; the signature authenticates us"
    if parts.fragment:
        return "must not have a #fragment"
    if parts.scheme == "http" and not (debug or _is_loopback(host)):
        return "must use https:// (plain http only to a loopback host)"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookSender:
    """Send one signed POST to a subscription's URL; 2xx -> the status, else raise.

    Raises PepTransientError (connection, timeout, 408/425/429, 5xx, anything unexpected) or
    PepPermanentError (other 4xx, a URL the rules above refuse). No redirect is followed, the
    answer is read up to an excerpt, and nothing secret (the secret, the signature, the URL's
    query) is logged or put in an error.
    """

    def __init__(
        self, *, connect_timeout: float | None = None, read_timeout: float | None = None
    ) -> None:
        connect = connect_timeout or settings.PEP_CONNECT_TIMEOUT
        read = read_timeout or settings.PEP_READ_TIMEOUT
        self.timeout = (connect, read)
        self.clock: Callable[[], float] = time.time
        self.session = pooled_session(None)
        self.session.headers["User-Agent"] = "pepbridge-webhooks"

    def send(self, *, url: str, secret: str | Sequence[str], message_id: str, body: bytes) -> int:
        """`secret`: one, or several during a rotation's overlap (one signature each, as
        Standard Webhooks allows: a receiver accepts the request if any of them verifies)."""
        problem = url_problem(url, debug=settings.DEBUG)
        if problem:
            raise PepPermanentError(f"subscription URL refused: {problem}", error_class="bad_url")
        timestamp = int(self.clock())
        keys = [secret] if isinstance(secret, str) else list(secret)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(
                signature(key, message_id, timestamp, body) for key in keys
            ),
        }
        started = time.monotonic()
        status, excerpt, retry_after = self._post(url, headers, body, started)
        _log(url, status, started)
        if 200 <= status < 300:
            return status
        message = f"the subscription answered {status}"
        if 400 <= status < 500 and status not in TRANSIENT_4XX:
            raise PepPermanentError(message, status=status, body_excerpt=excerpt)
        after = parse_retry_after(retry_after, _utcnow())
        raise PepTransientError(message, status=status, body_excerpt=excerpt, retry_after=after)

    def _post(
        self, url: str, headers: dict[str, str], body: bytes, started: float
    ) -> tuple[int, str, str]:
        """(status, answer excerpt, Retry-After) of one POST; transport faults raised as ours."""
        host = urlsplit(url).hostname or ""
        try:
            raw = self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                proxies=_proxies(_origin(url)),
            )
            try:
                excerpt = _excerpt(raw)
            finally:
                raw.close()
        # `from None`: requests' exceptions carry the prepared request and its headers.
        except requests.Timeout:
            _log(url, None, started, "timeout")
            raise PepTransientError(f"{host} timed out", error_class="timeout") from None
        except requests.ConnectionError as exc:
            _log(url, None, started, "connection")
            message = f"could not reach {host} ({type(exc).__name__})"
            raise PepTransientError(message, error_class="connection") from None
        except requests.RequestException as exc:
            message = f"HTTP failure to {host} ({type(exc).__name__})"
            raise PepTransientError(message, error_class="unknown") from None
        return raw.status_code, excerpt, raw.headers.get("Retry-After", "")

    def close(self) -> None:
        self.session.close()


def _excerpt(raw: requests.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(chunk_size=EXCERPT_BYTES):
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_BYTES:
            break
    return b"".join(chunks)[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@lru_cache(maxsize=256)
def _proxies(origin: str) -> dict[str, str]:
    """The proxy environment for one origin, read once (as PepClient reads it for PEP)."""
    return dict(requests.utils.get_environ_proxies(origin))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _log(url: str, status: int | None, started: float, error_class: str = "") -> None:
    """One line per attempt: host and path only (a query string may carry the receiver's token)."""
    parts = urlsplit(url)
    level = logging.INFO if status is not None and 200 <= status < 300 else logging.WARNING
    fields = {
        "host": parts.hostname or "",
        "path": parts.path,
        "status": status or "",
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
        "error_class": error_class or ("" if status and 200 <= status < 300 else f"http_{status}"),
    }
    logger.log(level, "operator webhook call", extra=fields)


_sender: WebhookSender | None = None
_sender_lock = threading.Lock()


def get_webhook_sender() -> WebhookSender:
    """The process's WebhookSender, created on first use (thread-safe)."""
    global _sender
    sender = _sender
    if sender is None:
        with _sender_lock:
            if _sender is None:
                _sender = WebhookSender()
            sender = _sender
    return sender


def reset_webhook_sender() -> None:
    """Close and forget the process's sender, e.g. after tests change settings."""
    global _sender
    with _sender_lock:
        sender, _sender = _sender, None
    if sender is not None:
        sender.close()
