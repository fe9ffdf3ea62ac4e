"""A logfmt formatter: one `key=value` line per record, easy to grep and to ship to a collector.

Fields passed through `extra=` become keys. Callers are responsible for never passing secrets,
tokens or personal data at info level; the formatter only quotes and escapes.
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
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)
