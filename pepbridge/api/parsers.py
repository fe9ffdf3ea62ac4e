"""The one JSON parser of every API view: any body that is not usable JSON is a 400, never a 500.

DRF's stock JSONParser turns only ValueError into a ParseError. A body nested a few thousand
levels deep (`[[[[...`, well under any size limit) makes the decoder raise RecursionError
instead, which reached the exception handler as an unexpected error: a 500, retried by the
caller, and never recorded as a refused request. Every way JSON enters the bridge (the Operator
API, the ingestion API, the JSON Lines loaders) decodes through `parse_json` below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from pepbridge.api.exceptions import ApiError


class BadJSON(ValueError):
    """Why a text is not usable JSON, as a phrase: "not valid JSON: ..." or "nested too deeply"."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str | bytes, *, parse_float: Callable[[str], Any] | None = None) -> Any:
    """Decode `text` (UTF-8 when bytes); NaN/Infinity, bad encoding and deep nesting -> BadJSON."""
    try:
        return json.loads(text, parse_float=parse_float, parse_constant=_refuse_constant)
    except RecursionError:
        # The C decoder recurses once per level and gives up at the interpreter's limit.
        raise BadJSON("nested too deeply to be read") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadJSON(f"not valid JSON: {exc}") from None


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
