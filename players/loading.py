"""Load JSON Lines files (one player or one event per line) through the same services as the API.

Backfills and migrations from another system arrive as files; each line goes through exactly the
validation the ingestion API applies, batch by batch (one transaction per batch, one savepoint per
line), so a bad line is reported with its line number and never stops the lines around it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from django.db import transaction

from pepbridge.api.parsers import BadJSON, parse_json
from players import services
from players.results import ACCEPTED, CONFLICT, DUPLICATE, REJECTED, ItemResult
from players.serializers import PlayerSerializer, flatten_errors

BatchHandler = Callable[[Sequence[Mapping[str, Any]]], list[ItemResult]]


@dataclass
class LoadSummary:
    """Counts per outcome, and every line that was not taken, with its number and reason."""

    counts: dict[str, int] = field(
        default_factory=lambda: {ACCEPTED: 0, DUPLICATE: 0, CONFLICT: 0, REJECTED: 0}
    )
    problems: list[tuple[int, ItemResult]] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(self.counts.values())

    def add(self, line_number: int, result: ItemResult) -> None:
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if not result.ok:
            self.problems.append((line_number, result))


def parse_line(text: str) -> Mapping[str, Any] | ItemResult:
    """One line as a JSON object (numbers with a fraction as Decimal), or why it is not one."""
    try:
        value = parse_json(text, parse_float=Decimal)
    except BadJSON as exc:
        return ItemResult(REJECTED, message=str(exc))
    if not isinstance(value, dict):
        return ItemResult(REJECTED, message="each line must be a JSON object")
    return value


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield number, text


def load_lines(
    lines: Iterable[str],
    handle_batch: BatchHandler,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> LoadSummary:
    """Feed `lines` to `handle_batch` in batches; blank lines are skipped but keep their number."""
    summary = LoadSummary()
    batch: list[tuple[int, Mapping[str, Any]]] = []
    seen = 0
    for number, text in _numbered(lines):
        parsed = parse_line(text)
        if isinstance(parsed, ItemResult):
            summary.add(number, parsed)
        else:
            batch.append((number, parsed))
        seen = number
        if len(batch) >= batch_size:
            _flush(batch, handle_batch, summary)
            if progress:
                progress(seen)
    _flush(batch, handle_batch, summary)
    if progress:
        progress(seen)
    summary.problems.sort(key=lambda item: item[0])  # parse errors were noted before their batch
    return summary


def _flush(
    batch: list[tuple[int, Mapping[str, Any]]], handle_batch: BatchHandler, summary: LoadSummary
) -> None:
    if not batch:
        return
    results = handle_batch([item for _, item in batch])
    for (number, _), result in zip(batch, results, strict=True):
        summary.add(number, result)
    batch.clear()


class ProgressBar:
    """A one-line progress bar on a terminal stream; silent when the stream is not a terminal."""

    def __init__(
        self,
        total: int,
        *,
        label: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.clock = clock
        self.started = clock()
        self.enabled = self.stream.isatty()
        # The first figure reported: a resumed run starts past zero, and what it had done before
        # is not part of this run's rate.
        self.baseline: int | None = None

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if self.baseline is None:
            self.baseline, self.started = done, now
        share = min(done / self.total, 1.0)
        filled = int(share * 30)
        rate = (done - self.baseline) / max(now - self.started, 1e-6)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{self.total:,}"
            f" ({share:.0%}, {rate:,.0f}/s)"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def format_summary(summary: LoadSummary, *, limit: int = 50) -> list[str]:
    """Human lines: totals, then the first `limit` problems with line numbers and field errors."""
    counts = summary.counts
    out = [
        f"{summary.lines:,} lines: {counts[ACCEPTED]:,} accepted, {counts[DUPLICATE]:,} duplicate,"
        f" {counts[CONFLICT]:,} conflict, {counts[REJECTED]:,} rejected"
    ]
    for number, result in summary.problems[:limit]:
        detail = result.message or ""
        if result.errors:
            detail = (detail + " " if detail else "") + json.dumps(result.errors, default=str)
        out.append(f"line {number}: {result.status}: {detail}")
    if len(summary.problems) > limit:
        out.append(f"... and {len(summary.problems) - limit:,} more (see --errors-file)")
    return out


def ingest_players(
    items: Sequence[Mapping[str, Any]], *, send: bool = True, cause: str | None = None
) -> list[ItemResult]:
    """Create or update each player (the loader's upsert), one savepoint per item.

    Validation is PlayerSerializer's, exactly as in the API; a refused item writes nothing.
    `cause` ("loader:<file>") is what the reconciliation trail records for repairs it enables.
    """
    with transaction.atomic():
        return [_ingest_player(item, send, cause) for item in items]


def _ingest_player(item: Mapping[str, Any], send: bool, cause: str | None) -> ItemResult:
    key = item.get("playerId") if isinstance(item.get("playerId"), str) else None
    serializer = PlayerSerializer(data=item)
    if not serializer.is_valid():
        return ItemResult(REJECTED, key=key, errors=flatten_errors(serializer.errors))
    try:
        change = services.player_upsert(data=serializer.validated_data, send=send, cause=cause)
    except services.PlayerError as exc:
        status = CONFLICT if isinstance(exc, services.PlayerConflict) else REJECTED
        return ItemResult(status, key=key, errors=exc.errors, message=str(exc))
    if change.created or change.changed:
        return ItemResult(ACCEPTED, key=key)
    return ItemResult(DUPLICATE, key=key, message="No change.")
