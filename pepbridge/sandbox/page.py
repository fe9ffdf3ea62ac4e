"""The sandbox's HTML page: what "PEP" received, newest first, refreshed every few seconds."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from pepbridge.sandbox.faults import Fault
from pepbridge.sandbox.records import Record, pretty
from pepbridge.sandbox.webhooks import EVENT_KINDS, WebhookSender

REFRESH_SECONDS = 3

_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
pre{margin:4px 0;font-size:12px;max-height:30em;overflow:auto}
.ok{color:#17702a}.bad{color:#b3261e}.muted{color:#777}
"""


def render(
    records: list[Record], faults: Mapping[str, Fault], webhooks: WebhookSender | None = None
) -> str:
    """Render records (given oldest first) as a table, newest first."""
    rows = "\n".join(_row(record) for record in reversed(records))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_SECONDS}'>"
        f"<title>PEP sandbox</title><style>{_STYLE}</style></head><body>"
        "<h1>PEP sandbox</h1>"
        f"<p class='muted'>What the sandbox received, newest first ({len(records)} shown). "
        "JSON: <a href='/_sandbox/received'>/_sandbox/received</a>. "
        "What the bridge forwarded to the operator platform: "
        "<a href='/_sandbox/operator'>/_sandbox/operator</a>. "
        f"Faults: {_faults(faults)}</p>"
        f"{_webhooks(webhooks)}"
        "<table><thead><tr><th>time (UTC)</th><th>type</th><th>player</th><th>status</th>"
        "<th>request</th></tr></thead><tbody>"
        f"{rows or _EMPTY}</tbody></table></body></html>"
    )


_EMPTY = "<tr><td colspan='5' class='muted'>nothing received yet</td></tr>"


def _faults(faults: Mapping[str, Fault]) -> str:
    if not faults:
        return "none"
    parts = []
    for key, fault in faults.items():
        options = ", ".join(f"{k}={v}" for k, v in fault.as_dict().items() if v not in (0, None))
        parts.append(f"<code>{escape(key)}</code> ({escape(options)})")
    return "; ".join(parts)


def _row(record: Record) -> str:
    status = "dropped" if record.status is None else str(record.status)
    css = "ok" if record.status is not None and record.status < 300 else "bad"
    fault = f" <span class='muted'>({escape(record.fault)})</span>" if record.fault else ""
    body = escape(pretty(record.body))
    return (
        f"<tr><td>{record.time:%H:%M:%S}.{record.time.microsecond // 1000:03d}</td>"
        f"<td>{escape(record.message_type or '-')}</td>"
        f"<td>{escape(record.player_id or '-')}</td>"
        f"<td class='{css}'>{status}{fault}</td>"
        f"<td><details><summary>{escape(record.method)} {escape(record.path)}</summary>"
        f"<pre>{body}</pre></details></td></tr>"
    )


def _webhooks(sender: WebhookSender | None) -> str:
    """Buttons that make "PEP" send a signed webhook to the bridge, and the last answers."""
    if sender is None:
        return ""
    buttons = "".join(
        f"<button name='event' value='{kind}'>{kind.replace('_', ' ')}</button> "
        for kind in EVENT_KINDS
    )
    rows = "".join(
        f"<li>{s.at:%H:%M:%S} {escape(', '.join(s.events))} for {escape(s.player)}: "
        f"<span class='{'ok' if s.status == 202 else 'bad'}'>{s.status or 'no answer'}</span> "
        f"<code>{escape(s.answer[:200])}</code></li>"
        for s in reversed(sender.recent())
    )
    return (
        "<h2>Send a webhook to the bridge</h2>"
        f"<form method='post' action='/_sandbox/webhooks'>player "
        f"<input name='player' value='demo-1001' size='12'> {buttons}</form>"
        f"<p class='muted'>to {escape(sender.url)}, signed as PEP signs.</p>"
        f"<ul>{rows}</ul>"
    )
