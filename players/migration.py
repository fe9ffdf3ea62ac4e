"""The initial load: every player (or a filtered set) through PEP's bulk migration endpoint.

Why not the outbox (see docs/ingestion.md): PEP validates a chunk synchronously and answers with
per-player errors that must be stored against the players, chunks are up to 15 MB, and a chunk
must never go twice, whereas the outbox stores every body and retries on its own schedule.

Each chunk is recorded (status `sending`, with the primary-key range it covers) and committed
before the call, so an interrupted run resumes after the last recorded chunk. A chunk whose
outcome is unknown (timeout, dropped connection, a crash mid-call) is not re-sent unless the
caller asks for it; one PEP refused outright (4xx, or 429/503 which mean "not processed") is.
A re-sent chunk carries every player its range still selects; if they no longer fit one request
it is split, and the parts are recorded before any is sent, so no player is skipped.

The batch record has no documented place for consents, verification state or tags (§7.3), so
once PEP accepts a chunk, the same transaction queues those messages for its players in the
outbox, keyed per run and player: a resumed run never queues them twice.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from events.models import OutboxMessage
from events.outbox import PepMessage, enqueue_many
from pepbridge.pep import contract, wire
from pepbridge.pep.client import PepResponse, get_pep_client
from pepbridge.pep.errors import PepError, PepPermanentError, PepTransientError
from players import messages, profile, selectors
from players.models import MigrationChunk, MigrationError, MigrationRun, Player

logger = logging.getLogger("players.migration")

MAX_PLAYERS = contract.MIGRATION_BATCH_MAX  # [DOC] 20,000 players per request
_BATCH = contract.body_spec("players_migration_batch")
_RECORD = _BATCH.item("players")
# The envelope around the records, `{"players":[` ... `]}`, with the wire name from the spec.
_OPEN = b"{" + wire.dumps(_BATCH.wire("players")) + b":["
_CLOSE = b"]}"
MAX_BODY_BYTES = 15 * 1024 * 1024  # [DOC] 15 MB; applied to the uncompressed JSON, to be safe
_NOT_PROCESSED = (429, 503)  # PEP said "not now": the chunk was not taken, send it again
_MAX_WAITS = 5
_ENQUEUE_BATCH = 5000  # outbox rows per multi-row INSERT when a chunk's follow-ups are queued


class MigrationStopped(Exception):
    """The run stopped at a chunk PEP refused or whose outcome is unknown; resume later."""


@dataclass
class MigrationReport:
    run: MigrationRun
    chunks_sent: int = 0
    players_sent: int = 0
    players_with_errors: int = 0
    follow_ups_queued: int = 0
    unconfirmed: list[int] = field(default_factory=list)
    # sequence of a re-sent chunk that no longer fit one request -> sequences of its split-offs
    split: dict[int, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkBody:
    first_pk: int
    last_pk: int
    player_count: int
    body: bytes
    player_pks: tuple[int, ...] = ()  # exactly the players in `body`, in order


@dataclass(frozen=True)
class Limits:
    max_players: int = MAX_PLAYERS
    max_bytes: int = MAX_BODY_BYTES


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

    The body is `{"players":[...]}` in the canonical wire encoding, each record built through
    the contract's record spec, record by record so its size is known before it is assembled.
    """
    parts: list[bytes] = []
    pks: list[int] = []
    size = len(_OPEN + _CLOSE)
    for player in players:
        record = contract.wire_body(
            _RECORD, player_id=player.player_id, **profile.held_profile(player)
        )
        part = wire.dumps(record)
        if parts and (len(parts) >= max_players or size + len(part) + 1 > max_bytes):
            break
        parts.append(part)
        pks.append(player.pk)
        size += len(part) + (1 if len(parts) > 1 else 0)
    if not parts:
        return None
    body = _OPEN + b",".join(parts) + _CLOSE
    return ChunkBody(pks[0], pks[-1], len(parts), body, tuple(pks))


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
    `progress` gets the number of players PEP has accepted in this run so far, starting with
    those of the chunks accepted before a resume.
    """
    report = MigrationReport(run=run)
    limits = Limits(max_players, max_bytes)
    confirmed = selectors.migration_players_confirmed(run)
    tick = _ticker(progress, confirmed, report)
    tick()
    for chunk in _chunks_to_resend(run, resend_unconfirmed, report):
        for part, built in _resend_parts(run, chunk, limits, report):
            _send(part, built, report, sleep)
            tick()
    while True:
        cursor = max((c.last_pk for c in run.chunks.all()), default=0)
        built = _build(run, cursor, None, limits)
        if built is None:
            break
        _send(_record(run, built), built, report, sleep)
        tick()
    if not report.unconfirmed:
        run.status, run.finished_at = MigrationRun.Status.FINISHED, timezone.now()
        run.save(update_fields=["status", "finished_at"])
    return report


def _ticker(
    progress: Callable[[int], None] | None, confirmed: int, report: MigrationReport
) -> Callable[[], None]:
    def tick() -> None:
        if progress:
            progress(confirmed + report.players_sent)

    return tick


def _players(run: MigrationRun) -> Any:
    return selectors.players_for_migration(run.filters)


def _build(
    run: MigrationRun, after_pk: int, up_to_pk: int | None, limits: Limits
) -> ChunkBody | None:
    """The next chunk of the run's players after `after_pk` (and up to `up_to_pk`, if given)."""
    players = _players(run).filter(pk__gt=after_pk)
    if up_to_pk is not None:
        players = players.filter(pk__lte=up_to_pk)
    return build_chunk(
        players.iterator(chunk_size=2000),
        max_players=limits.max_players,
        max_bytes=limits.max_bytes,
    )


def _resend_parts(
    run: MigrationRun, chunk: MigrationChunk, limits: Limits, report: MigrationReport
) -> Sequence[tuple[MigrationChunk, ChunkBody | None]]:
    """A chunk to send again, as every player its range still selects (never fewer).

    The range is the chunk's identity: the players the run's filter selects in it now (those
    erased meanwhile drop out). When they no longer fit one request (other limits than the
    first run's, larger profiles, players that came into the filter) the chunk is split.
    """
    parts: list[ChunkBody] = []
    cursor = chunk.first_pk - 1
    while (built := _build(run, cursor, chunk.last_pk, limits)) is not None:
        parts.append(built)
        cursor = built.last_pk
    if len(parts) > 1:
        return _split(run, chunk, parts, report)
    if parts and parts[0].player_count != chunk.player_count:
        logger.warning(
            "migration chunk re-sent with another player count",
            extra={
                "chunk": chunk.sequence,
                "was": chunk.player_count,
                "now": parts[0].player_count,
            },
        )
    return [(chunk, parts[0] if parts else None)]


@transaction.atomic
def _split(
    run: MigrationRun, chunk: MigrationChunk, parts: list[ChunkBody], report: MigrationReport
) -> Sequence[tuple[MigrationChunk, ChunkBody]]:
    """Keep the first part under the chunk's record; record each other part as a new chunk.

    All of it commits before any part is sent, so an interruption cannot leave part of the range
    unrecorded (the run continues after the highest recorded primary key). A split-off part
    waits as `refused`, the status that means "PEP has not taken it, send it": nothing has.
    """
    starts = [chunk.first_pk] + [part.first_pk for part in parts[1:]]
    ends = [start - 1 for start in starts[1:]] + [chunk.last_pk]
    note = f"split off chunk {chunk.sequence} (it no longer fit one request); not sent yet"
    records = [chunk]
    for part, first_pk, last_pk in zip(parts[1:], starts[1:], ends[1:], strict=True):
        records.append(_record(run, part, first_pk=first_pk, last_pk=last_pk, refused_because=note))
    chunk.last_pk = ends[0]
    chunk.save(update_fields=["last_pk"])
    report.split[chunk.sequence] = [record.sequence for record in records[1:]]
    logger.warning(
        "migration chunk split",
        extra={"chunk": chunk.sequence, "into": ",".join(str(r.sequence) for r in records)},
    )
    return list(zip(records, parts, strict=True))


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


def _record(
    run: MigrationRun,
    built: ChunkBody,
    *,
    first_pk: int | None = None,
    last_pk: int | None = None,
    refused_because: str = "",
) -> MigrationChunk:
    """Record the next chunk of the run: `sending` (about to go), or `refused` with a reason."""
    sequence = (
        run.chunks.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    ) + 1
    status = MigrationChunk.Status.REFUSED if refused_because else MigrationChunk.Status.SENDING
    return MigrationChunk.objects.create(
        run=run,
        sequence=sequence,
        first_pk=built.first_pk if first_pk is None else first_pk,
        last_pk=built.last_pk if last_pk is None else last_pk,
        player_count=built.player_count,
        body_bytes=len(built.body),
        gzip_bytes=0,
        status=status,
        last_error=MigrationChunk.bounded_error(refused_because),
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
    _refuse_if_invalid(chunk, built)
    compressed = gzip.compress(built.body, mtime=0)
    _mark(
        chunk,
        MigrationChunk.Status.SENDING,
        player_count=built.player_count,
        body_bytes=len(built.body),
        gzip_bytes=len(compressed),
        sent_at=timezone.now(),
    )
    response = _post(chunk, compressed, sleep)
    errors, follow_ups = _store_answer(chunk, built, response)
    report.chunks_sent += 1
    report.players_sent += built.player_count
    report.players_with_errors += errors
    report.follow_ups_queued += follow_ups


def _refuse_if_invalid(chunk: MigrationChunk, built: ChunkBody) -> None:
    """Refuse (and stop at) a chunk that breaks the contract, before PEP sees any of it.

    The builders check every outbox body against the contract; a chunk is checked the same way,
    as the bytes that would be sent. A player the contract refuses (a country that is not ISO
    3166-1, say) is named in the error; once the data is corrected, the chunk, recorded as
    refused, is built again and sent by the next run.
    """
    loaded = wire.loads(built.body)
    errors = contract.validate("players_migration_batch", loaded)
    if not errors:
        return
    records = loaded.get(_BATCH.wire("players"), []) if isinstance(loaded, Mapping) else []
    detail = "; ".join(
        f"{_where(path, records)}: {', '.join(messages)}" for path, messages in errors.items()
    )
    _mark(
        chunk,
        MigrationChunk.Status.REFUSED,
        last_error=MigrationChunk.bounded_error(f"contract: {detail}"),
        answered_at=timezone.now(),
    )
    raise MigrationStopped(
        f"chunk {chunk.sequence} not sent, it breaks the contract ({detail}); "
        "correct the players and run again"
    )


def _where(path: str, records: list[Any]) -> str:
    """`players.3.country` -> `player p-4 country`: the player, not its place in the chunk."""
    parts = path.split(".", 2)
    if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= len(records):
        return path or "body"
    record = records[int(parts[1])]
    player = record.get(_RECORD.wire("player_id")) if isinstance(record, Mapping) else None
    return " ".join(part for part in (f"player {player}", *parts[2:]) if part)


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
    _mark(
        chunk, status, last_error=MigrationChunk.bounded_error(detail), answered_at=timezone.now()
    )
    raise MigrationStopped(f"chunk {chunk.sequence} {what}: {detail}")


def _mark(chunk: MigrationChunk, status: str, **fields: Any) -> None:
    chunk.status = status
    for name, value in fields.items():
        setattr(chunk, name, value)
    chunk.save(update_fields=["status", *fields])


@transaction.atomic
def _store_answer(
    chunk: MigrationChunk, built: ChunkBody, response: PepResponse
) -> tuple[int, int]:
    """Record the task id, each player's validation errors and the players' follow-up messages.

    One transaction: the chunk is `accepted` exactly when its follow-ups are queued, so neither
    a crash nor a resume can queue them twice or lose them. Returns (players with errors,
    follow-up messages queued).
    """
    answer = response.json() if response.body else {}
    task_id, per_player = parse_answer(answer)
    members = set(built.player_pks)
    by_id = {
        player_id: pk
        for player_id, pk in Player.objects.filter(
            player_id__in=list(per_player), pk__gte=built.first_pk, pk__lte=built.last_pk
        ).values_list("player_id", "pk")
        if pk in members
    }
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
    follow_ups = _queue_follow_ups(chunk, built, refused=set(per_player))
    logger.info(
        "migration chunk accepted",
        extra={"chunk": chunk.sequence, "task_id": task_id, "players": chunk.player_count},
    )
    return len(per_player), follow_ups


def _queue_follow_ups(chunk: MigrationChunk, built: ChunkBody, *, refused: set[str]) -> int:
    """Queue consents, verification state and tags for the chunk's players PEP took.

    Players PEP refused are left out (PEP did not store them; a later run that sends them again
    queues theirs), and so are players erased since the chunk was built.
    """
    members = set(built.player_pks)
    when = timezone.now()
    pending: list[PepMessage] = []
    queued = 0
    for player in selectors.players_in_pk_range(built.first_pk, built.last_pk).iterator(2000):
        if player.pk in members and player.player_id not in refused:
            pending.extend(messages.after_migration(player, when, run_id=chunk.run_id))
        if len(pending) >= _ENQUEUE_BATCH:
            queued += _enqueue(pending)
    return queued + _enqueue(pending)


def _enqueue(pending: list[PepMessage]) -> int:
    """Write `pending` to the outbox and empty it; a key already taken is not written again."""
    if not pending:
        return 0
    outcomes = enqueue_many(pending)
    pending.clear()
    return sum(isinstance(outcome, OutboxMessage) for outcome in outcomes)


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
    raw: Any = next((answer[k] for k in names if k in answer), [])
    per_player: dict[str, Any] = {}
    if isinstance(raw, Mapping):
        per_player = {str(k): v for k, v in raw.items()}
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping) and item.get("playerId"):
                per_player[str(item["playerId"])] = item.get("errors", item)
    return task_id, per_player
