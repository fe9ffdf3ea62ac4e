"""A logfmt formatter: one `key=value` line per record, easy to grep and to ship to a collector.

Fields passed through `extra=` become keys. Callers are responsible for never passing secrets,
tokens or personal data at info level; the formatter only quotes and escapes.

An expected client error (a 4xx logged by `django.request`, e.g. a 403 from PermissionDenied)
is one line: Django attaches the exception, whose ~40-line traceback says nothing the status and
path do not. Server errors (5xx) keep their traceback.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Every character a log reader may take as the end of a line or that a terminal interprets:
# C0 controls (\r and \t included), DEL, C1 controls (\x85 is "next line"), and Unicode's line
# and paragraph separators. A value holding one (a requestId with "\r", say) could otherwise
# forge a line of its own; escaped, it stays inside its quotes.
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_TO_ESCAPE = re.compile(f'[\\\\"{_CONTROL}]')
_TO_QUOTE = re.compile(f'[ =\\\\"{_CONTROL}]')
_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT.get(char) or f"\\u{ord(char):04x}"


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or _TO_QUOTE.search(text):
        text = '"' + _TO_ESCAPE.sub(_escape, text) + '"'
    return text


def is_client_error(record: logging.LogRecord) -> bool:
    """A response Django logged with a 4xx status (`extra={"status_code": ...}`)."""
    status = getattr(record, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500


class SkipClientErrors(logging.Filter):
    """For runserver's access log: `django.request` already logs each 4xx on one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not is_client_error(record)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        parts = [
            f"ts={when.replace('+00:00', 'Z')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        parts += [f"{k}={_quote(v)}" for k, v in vars(record).items() if k not in _STANDARD]
        if record.exc_info and not is_client_error(record):
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)
