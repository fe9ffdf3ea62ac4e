"""The initial load: every player (or a filtered set) through PEP's bulk migration endpoint.

Why not the outbox (see docs/ingestion.md): PEP validates a chunk synchronously and answers with
per-player errors that must be stored against the players, chunks are up to 15 MB, and a chunk
must never go twice, whereas the outbox stores every body and retries on its own schedule.

Each chunk is recorded (status `sending`, with the primary-key range it covers) and committed
before the call, so an interrupted run resumes after the last recorded chunk. A chunk whose
outcome is unknown (timeout, dropped connection, a crash mid-call) is not re-sent unless the
caller asks for it; one PEP refused outright (4xx, or 429/503 which mean "not processed") is.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from pepbridge.pep import contract, wire
from pepbridge.pep.client import PepResponse, get_pep_client
from pepbridge.pep.errors import PepError, PepPermanentError, PepTransientError
from players import profile, selectors
from players.models import MigrationChunk, MigrationError, MigrationRun, Player

logger = logging.getLogger("players.migration")

MAX_PLAYERS = contract.MIGRATION_BATCH_MAX  # [DOC] 20,000 players per request
MAX_BODY_BYTES = 15 * 1024 * 1024  # [DOC] 15 MB; applied to the uncompressed JSON, to be safe
_NOT_PROCESSED = (429, 503)  # PEP said "not now": the chunk was not taken, send it again
_MAX_WAITS = 5


class MigrationStopped(Exception):
    """The run stopped at a chunk PEP refused or whose outcome is unknown; resume later."""


@dataclass
class MigrationReport:
    run: MigrationRun
    chunks_sent: int = 0
    players_sent: int = 0
    players_with_errors: int = 0
    unconfirmed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkBody:
    first_pk: int
    last_pk: int
    player_count: int
    body: bytes


def migration_run_for(filters: Mapping[str, Any]) -> MigrationRun:
    """The unfinished run with exactly these filters (to resume it), or a new one."""
    normalised = {k: v for k, v in filters.items() if v not in (None, "", [])}
    for run in MigrationRun.objects.filter(status=MigrationRun.Status.RUNNING).order_by("-pk"):
        if run.filters == normalised:
            return run
    return MigrationRun.objects.create(filters=normalised)


def build_chunk(
    players: Iterable[Player], *, max_players: int = MAX_PLAYERS, max_bytes: int = MAX_BODY_BYTES
) -> ChunkBody | None:
    """Take players in order until the next would pass either limit; None when there are none.

    The body is `{"players":[...]}` in the canonical wire encoding, built record by record so
    its size is known before it is assembled.
    """
    parts: list[bytes] = []
    size = len(b'{"players":[]}')
    first_pk = last_pk = 0
    for player in players:
        part = wire.dumps({"playerId": player.player_id, **profile.full_profile(player)})
        if parts and (len(parts) >= max_players or size + len(part) + 1 > max_bytes):
            break
        if not parts:
            first_pk = player.pk
        parts.append(part)
        size += len(part) + (1 if len(parts) > 1 else 0)
        last_pk = player.pk
    if not parts:
        return None
    body = b'{"players":[' + b",".join(parts) + b"]}"
    return ChunkBody(first_pk, last_pk, len(parts), body)


def migration_send(
    run: MigrationRun,
    *,
    max_players: int = MAX_PLAYERS,
    max_bytes: int = MAX_BODY_BYTES,
    resend_unconfirmed: bool = False,
    progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> MigrationReport:
    """Send the run's remaining chunks; raises MigrationStopped at the first chunk not taken.

    Must run outside a transaction: each chunk's record is committed before its call.
    """
    report = MigrationReport(run=run)
    limits = {"max_players": max_players, "max_bytes": max_bytes}
    for chunk in _chunks_to_resend(run, resend_unconfirmed, report):
        players = _players(run).filter(pk__gte=chunk.first_pk, pk__lte=chunk.last_pk)
        _send(chunk, build_chunk(players.iterator(), **limits), report, sleep)
        if progress:
            progress(report.players_sent)
    while True:
        cursor = max((c.last_pk for c in run.chunks.all()), default=0)
        built = build_chunk(_players(run).filter(pk__gt=cursor).iterator(chunk_size=2000), **limits)
        if built is None:
            break
        _send(_record(run, built), built, report, sleep)
        if progress:
            progress(report.players_sent)
    if not report.unconfirmed:
        run.status, run.finished_at = MigrationRun.Status.FINISHED, timezone.now()
        run.save(update_fields=["status", "finished_at"])
    return report


def _players(run: MigrationRun) -> Any:
    return selectors.players_for_migration(run.filters)


def _chunks_to_resend(
    run: MigrationRun, resend_unconfirmed: bool, report: MigrationReport
) -> list[MigrationChunk]:
    chunks = []
    for chunk in run.chunks.exclude(status=MigrationChunk.Status.ACCEPTED).order_by("sequence"):
        if chunk.status == MigrationChunk.Status.SENDING and not resend_unconfirmed:
            report.unconfirmed.append(chunk.sequence)
        else:
            chunks.append(chunk)
    return chunks


def _record(run: MigrationRun, built: ChunkBody) -> MigrationChunk:
    sequence = (
        run.chunks.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    ) + 1
    return MigrationChunk.objects.create(
        run=run,
        sequence=sequence,
        first_pk=built.first_pk,
        last_pk=built.last_pk,
        player_count=built.player_count,
        body_bytes=len(built.body),
        gzip_bytes=0,
    )


def _send(
    chunk: MigrationChunk,
    built: ChunkBody | None,
    report: MigrationReport,
    sleep: Callable[[float], None],
) -> None:
    """Send one recorded chunk and store PEP's answer against it and its players."""
    if built is None:  # every player of a re-sent range was erased meanwhile
        _mark(chunk, MigrationChunk.Status.ACCEPTED, player_count=0)
        return
    compressed = gzip.compress(built.body, mtime=0)
    _mark(chunk, MigrationChunk.Status.SENDING, gzip_bytes=len(compressed), sent_at=timezone.now())
    response = _post(chunk, compressed, sleep)
    errors = _store_answer(chunk, response)
    report.chunks_sent += 1
    report.players_sent += built.player_count
    report.players_with_errors += errors


def _post(chunk: MigrationChunk, compressed: bytes, sleep: Callable[[float], None]) -> PepResponse:
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Accept-Encoding": "gzip",
    }
    path = contract.path_for("players_migration_batch")
    for _ in range(_MAX_WAITS):
        try:
            # retry=False: an in-call retry after a timeout could deliver the chunk twice.
            return get_pep_client().request(
                "POST", path, body=compressed, headers=headers, retry=False
            )
        except PepTransientError as exc:
            if exc.status not in _NOT_PROCESSED:
                _stop(chunk, MigrationChunk.Status.SENDING, exc, "outcome unknown")
            sleep(min(exc.retry_after or 5.0, 60.0))
        except PepPermanentError as exc:
            _stop(chunk, MigrationChunk.Status.REFUSED, exc, "refused by PEP")
    _stop(chunk, MigrationChunk.Status.REFUSED, None, "PEP kept answering 429/503")
    raise AssertionError("unreachable")  # pragma: no cover


def _stop(chunk: MigrationChunk, status: str, exc: PepError | None, what: str) -> None:
    detail = f"{exc.error_class}: {exc} {exc.body_excerpt}".strip() if exc else what
    _mark(chunk, status, last_error=detail[:4000], answered_at=timezone.now())
    raise MigrationStopped(f"chunk {chunk.sequence} {what}: {detail}")


def _mark(chunk: MigrationChunk, status: str, **fields: Any) -> None:
    chunk.status = status
    for name, value in fields.items():
        setattr(chunk, name, value)
    chunk.save(update_fields=["status", *fields])


@transaction.atomic
def _store_answer(chunk: MigrationChunk, response: PepResponse) -> int:
    """Record the task id and each player's validation errors; returns how many players had some."""
    answer = response.json() if response.body else {}
    task_id, per_player = parse_answer(answer)
    by_id = dict(
        Player.objects.filter(
            player_id__in=list(per_player), pk__gte=chunk.first_pk, pk__lte=chunk.last_pk
        ).values_list("player_id", "pk")
    )
    MigrationError.objects.filter(chunk=chunk).delete()
    MigrationError.objects.bulk_create(
        MigrationError(chunk=chunk, player_id=by_id[pid], errors=errs)
        for pid, errs in per_player.items()
        if pid in by_id
    )
    _mark(
        chunk,
        MigrationChunk.Status.ACCEPTED,
        task_id=task_id,
        error_count=len(per_player),
        last_error="",
        answered_at=timezone.now(),
    )
    logger.info(
        "migration chunk accepted",
        extra={"chunk": chunk.sequence, "task_id": task_id, "players": chunk.player_count},
    )
    return len(per_player)


def parse_answer(answer: Any) -> tuple[str, dict[str, Any]]:
    """PEP's 200 answer -> (task id, {playerId: errors by property}).

    The schema is [UNKNOWN] (platform-api.md §7.3): accept the task id under the names seen in
    PEP's documentation and the sandbox, and per-player errors as a list of
    {playerId, errors} objects (the sandbox's `invalidPlayers`) or a {playerId: errors} mapping.
    """
    if not isinstance(answer, Mapping):
        return "", {}
    task_id = next(
        (str(answer[k]) for k in ("taskId", "migrationTasksId", "task_id", "id") if answer.get(k)),
        "",
    )
    names = ("invalidPlayers", "errors", "invalid", "failed")
    raw = next((answer[k] for k in names if k in answer), [])
    per_player: dict[str, Any] = {}
    if isinstance(raw, Mapping):
        per_player = {str(k): v for k, v in raw.items()}
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping) and item.get("playerId"):
                per_player[str(item["playerId"])] = item.get("errors", item)
    return task_id, per_player
