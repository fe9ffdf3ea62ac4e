"""The trail as CSV, produced lazily: one row at a time from a chunked database cursor."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from reconciliation.models import AuditStep

CHUNK_SIZE = 2000
HEADER = (
    "step_id",
    "time_utc",
    "step",
    "player_id",
    "field",
    "cause",
    "outbox_message_id",
    "detail",
    "request_pk",
    "request_source",
    "request_id",
    "request_received_utc",
    "item_pk",
)
_COLUMNS = (
    "id",
    "at",
    "kind",
    "player_id",
    "field",
    "cause",
    "outbox_message_id",
    "detail",
    "request_id",
    "request__source",
    "request__request_id",
    "request__received_at",
    "item_id",
)


class _Line:
    """A file-like object whose write() hands back the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a formula found in a PEP-sent name
    return "" if value is None else value


def csv_lines(steps: QuerySet[AuditStep]) -> Iterator[str]:
    """The header, then one CSV line per step, in the queryset's order."""
    writer = csv.writer(_Line())
    yield writer.writerow(HEADER)
    for row in steps.values_list(*_COLUMNS).iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([_cell(value) for value in row])


def file_name(player_id: str | None) -> str:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c for c in (player_id or "") if c.isalnum() or c in "-_")[:40]
    return f"reconciliation-audit-{safe + '-' if safe else ''}{stamp}.csv"
