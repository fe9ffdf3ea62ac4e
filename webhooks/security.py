"""Is this request from PEP? Allow-list, size, timestamp window and HMAC signature.

PEP signs `<timestamp>.<JSON body>` with HMAC-SHA256 (lowercase hex) under the key its admin
shows once. Whether it signs the bytes it sends or a re-serialisation is not documented: the raw
bytes are tried first, then the compact JSON of the parsed body. Up to two keys are tried, so a
key can be rotated without refusing anything (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from pepbridge.api.parsers import BadJSON, parse_json
from webhooks.decoding import parse_instant

TIMESTAMP_HEADER = "HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP"
SIGNATURE_HEADER = "HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE"
_HEX64 = re.compile(r"[0-9a-f]{64}")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebhookRefused(Exception):
    """The request is refused with `status`; `reason` is the metric label, `message` for PEP."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out, with the parsed body."""

    signed_at: datetime
    timestamp: str
    signature: str
    key_slot: int
    signed_form: str
    body: Any


def client_ip(meta: Mapping[str, Any]) -> str:
    """The caller's address: REMOTE_ADDR, or X-Forwarded-For when a trusted proxy sent it.

    The forwarded list is read right to left, skipping trusted proxies; the first other
    address is the client (entries left of it could be written by anyone).
    """
    remote = str(meta.get("REMOTE_ADDR", ""))
    trusted: Sequence[IPNetwork] = settings.PEP_WEBHOOK_TRUSTED_PROXIES
    if not trusted or not _in(remote, trusted):
        return remote
    hops = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not is_ip(hop):
            return ""  # a garbled chain: the client is unknown
        if not _in(hop, trusted):
            return hop
    return remote


def is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _in(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def check_ip(address: str) -> None:
    allowed: Sequence[IPNetwork] = settings.PEP_WEBHOOK_ALLOWED_IPS
    if allowed and not _in(address, allowed):
        raise WebhookRefused(403, "ip_not_allowed", "This address may not send PEP webhooks.")


def check_length(meta: Mapping[str, Any]) -> None:
    """Refuse by Content-Length before reading the body (the middleware makes it present)."""
    limit = settings.PEP_WEBHOOK_MAX_BODY_BYTES
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise WebhookRefused(400, "malformed", "Content-Length is not a number.") from None
    if length > limit:
        raise WebhookRefused(413, "too_large", f"The body is over {limit:,} bytes.")


def check_timestamp(header: str, now: datetime) -> datetime:
    """The signing time, refused when missing, unreadable or outside the tolerance window."""
    signed_at = parse_instant(header) if header else None
    if signed_at is None:
        raise WebhookRefused(
            401, "bad_timestamp", "The webhook timestamp is missing or unreadable."
        )
    tolerance = settings.PEP_WEBHOOK_TOLERANCE_SECONDS
    if abs((now - signed_at).total_seconds()) > tolerance:
        raise WebhookRefused(
            401, "stale_timestamp", f"The webhook timestamp is more than {tolerance}s away."
        )
    return signed_at


def _matching_slot(message: bytes, signature: str) -> int:
    """1 or 2 for the key that signed `message`, 0 for none; every key is tried (constant time)."""
    slot = 0
    for index, key in enumerate(settings.PEP_WEBHOOK_SECRETS, start=1):
        expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature) and not slot:
            slot = index
    return slot


def compact(body: Any) -> bytes:
    """The body as JavaScript's JSON.stringify writes it: no spaces, non-ASCII as is."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def verify(meta: Mapping[str, Any], raw: bytes, now: datetime) -> Verified:
    """Check timestamp and signature; parse the body (a 400 only once the signature holds)."""
    timestamp = str(meta.get(TIMESTAMP_HEADER, "")).strip()
    signature = str(meta.get(SIGNATURE_HEADER, "")).strip().lower()
    signature = signature.removeprefix("sha256=")  # tolerated, in case PEP adds the scheme
    signed_at = check_timestamp(timestamp, now)
    if not _HEX64.fullmatch(signature) or not settings.PEP_WEBHOOK_SECRETS:
        raise WebhookRefused(401, "bad_signature", "The webhook signature does not match.")
    prefix = timestamp.encode() + b"."
    slot, form = _matching_slot(prefix + raw, signature), "raw"
    body: Any = None
    parse_error = ""
    try:
        body = parse_json(raw)
    except BadJSON as exc:
        parse_error = str(exc)
    if not slot and not parse_error:
        slot, form = _matching_slot(prefix + compact(body), signature), "compact"
    if not slot:
        raise WebhookRefused(401, "bad_signature", "The webhook signature does not match.")
    if parse_error:
        raise WebhookRefused(400, "malformed", f"The body is {parse_error}.")
    return Verified(signed_at, timestamp, signature, slot, form, body)


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The signature PEP sends; used by tests and the sandbox to sign like PEP."""
    return hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
