"""logfmt lines: one record is one line, whatever a value holds."""

from __future__ import annotations

import logging

import pytest

from pepbridge.logfmt import LogfmtFormatter


def line(**extra: object) -> str:
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": "hi", **extra})
    return LogfmtFormatter().format(record)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("r-1\r\nts=forged level=error", r'"r-1\r\nts=forged level=error"'),
        ("a\tb", r'"a\tb"'),
        ("a\x00b", r'"a\u0000b"'),
        ("a\x1bb", r'"a\u001bb"'),
        ("a\x7fb", r'"a\u007fb"'),
        ("a\x85b", r'"a\u0085b"'),
        ("a\u2028b\u2029c", r'"a\u2028b\u2029c"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("plain", "plain"),
        ("", '""'),
    ],
)
def test_it_escapes_every_control_character_inside_quotes(value: str, shown: str) -> None:
    text = line(requestId=value)
    assert f"requestId={shown}" in text
    assert len(text.splitlines()) == 1


def test_a_message_cannot_forge_a_second_line_either() -> None:
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": "a\rlevel=error"})
    assert LogfmtFormatter().format(record).splitlines()[0].endswith(r'msg="a\rlevel=error"')
