"""The one JSON parser of every API view: any body that is not usable JSON is a 400, never a 500.

DRF's stock JSONParser turns only ValueError into a ParseError. A body nested a few thousand
levels deep (`[[[[...`, well under any size limit) makes the decoder raise RecursionError
instead, which reached the exception handler as an unexpected error: a 500, retried by the
caller, and never recorded as a refused request. Worse are bodies the decoder accepts but
nothing after it can store: `1e400` (a float that is infinity), a lone surrogate (`"\ud800"`,
not encodable as UTF-8), `"\u0000"` (PostgreSQL's jsonb and text refuse NUL), an integer past
64 bits, or nesting a few hundred levels deep (saved, then a RecursionError on every page that
renders it). `parse_json` below refuses all of them, and every way JSON enters the bridge (the
Operator API, the ingestion API, the token endpoint's JSON form, the JSON Lines loaders) decodes
through it. docs/security.md, "Hostile input", lists the bounds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from pepbridge.api.exceptions import ApiError


class BadJSON(ValueError):
    """Why a text is not usable JSON, as a phrase: "not valid JSON: ..." or "nested too deeply"."""


# Deeper than any document of the contracts by far (the deepest, a batch of casino rounds
# with their transactions, is 5 levels), and far below the ~900 levels where saving or
# rendering a value hits Python's recursion limit.
MAX_DEPTH = 64
# The largest integer a database column (bigint) or a JSON reader (int64) keeps exactly.
MAX_INT = 2**63 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# How NUL or a lone surrogate gets into a decoded value: the decoder refuses raw control
# characters, and strict UTF-8 never yields a surrogate, so only through these escapes.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _checked_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_INT:
        raise ValueError(f"the integer {text[:20]}... is beyond 64 bits")
    return value


def _finite(parse_float: Callable[[str], Any] | None) -> Callable[[str], Any]:
    """Wrap the float reader: a number that overflows a double (1e400) is refused, not inf."""

    def read(text: str) -> Any:
        if not math.isfinite(float(text)):
            raise ValueError(f"the number {text[:20]} is out of range")
        return parse_float(text) if parse_float else float(text)

    return read


def _check_value(value: Any, text: str) -> None:
    """Refuse nesting past MAX_DEPTH, NUL and lone surrogates in any key or string.

    Both walks use a stack, not recursion: the point is that nothing downstream (a JSONField
    save, an admin page's pretty-printer) ever meets a value deep enough to recurse far. Each
    runs only when the text shows it could find something (enough brackets to nest that deep;
    an escape that makes NUL or a surrogate), and the depth walk visits containers only:
    with the number hooks, a batch of 1,000 casino rounds (0.65 MB) takes ~12 ms, not ~4.
    """
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(value)
    if _SUSPECT_ESCAPE.search(text) or _UNSTORABLE.search(text):
        _check_strings(value)


def _check_depth(value: Any) -> None:
    """Walk level by level, containers only. json.loads makes plain dicts and lists, so an exact
    type test stands in for isinstance (a third of the cost: a webhook request's 70 containers
    take ~0.03 ms, were ~0.2 with a stack of (item, depth) pairs)."""
    level = [value] if type(value) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise BadJSON(f"nested more than {MAX_DEPTH} levels deep")
        below: list[Any] = []
        keep = below.append
        for item in level:
            for child in item.values() if type(item) is dict else item:
                kind = type(child)
                if kind is dict or kind is list:
                    keep(child)
        level = below


def _check_strings(value: Any) -> None:
    """Walk every key and string (with a stack: the depth is already bounded)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and (found := _UNSTORABLE.search(item)):
            raise BadJSON(f"not usable: a string holds {_name(found.group())}")


def _name(char: str) -> str:
    return "NUL (\\u0000)" if char == "\x00" else f"a lone surrogate (\\u{ord(char):04x})"


def parse_json(text: str | bytes, *, parse_float: Callable[[str], Any] | None = None) -> Any:
    """Decode `text` (UTF-8 when bytes) into values every column and page of the bridge can hold.

    BadJSON for: invalid JSON or encoding, NaN/Infinity, numbers out of a double's range,
    integers past 64 bits, nesting past MAX_DEPTH, NUL or a lone surrogate in any string.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(
            text,
            parse_float=_finite(parse_float),
            parse_int=_checked_int,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        # The C decoder recurses once per level and gives up at the interpreter's limit.
        raise BadJSON("nested too deeply to be read") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadJSON(f"not valid JSON: {exc}") from None
    _check_value(value, text)
    return value


def body_for_the_record(raw: bytes, limit: int) -> str:
    """A refused body as text staff can read and any database can store, at most `limit` chars.

    Bad UTF-8 becomes U+FFFD, and so does NUL: a raw NUL byte is valid UTF-8 but PostgreSQL's
    text and jsonb refuse it, and recording the refusal was itself a 500.
    """
    return raw.decode("utf-8", "replace")[:limit].replace("\x00", "\ufffd")


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser with every decoding problem (deep nesting included) as a ParseError."""

    parse_float: Callable[[str], Any] | None = None

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        body = _read_at_most(stream, _byte_limit(parser_context))
        try:
            return parse_json(body.decode(encoding), parse_float=self.parse_float)
        except BadJSON as exc:
            raise ParseError(f"The body is {exc}.") from None
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}.") from None


def _byte_limit(parser_context: Any) -> int | None:
    """The view's own limit (`body_byte_limit`, as the ingestion API has), else Django's."""
    view = (parser_context or {}).get("view")
    return getattr(view, "body_byte_limit", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _read_at_most(stream: Any, limit: int | None) -> bytes:
    """Read the body, refusing it past `limit` bytes without holding more than that in memory.

    DRF reads `request.data` from the raw stream, where Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    is never applied, and a Content-Length check misses chunked bodies: the bound is here.
    """
    if stream is None:
        return b""
    if limit is None:
        return bytes(stream.read())
    body = bytes(stream.read(limit + 1))
    if len(body) > limit:
        raise ApiError(
            413, f"The body is over the limit of {limit:,} bytes. Split it into smaller requests."
        )
    return body


class ExactJSONParser(JSONParser):
    """JSON with every fractional number as Decimal: an amount never passes through a float."""

    parse_float = Decimal
