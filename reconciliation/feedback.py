"""Migration feedback details: download PEP's gzip JSON at detailsURL and open its items.

The file's structure is [UNKNOWN] (operator-api.md §6, open question 6). We accept a list of
per-player entries, or an object holding one under "players", "invalidPlayers", "errors",
"failed" or "details", or a {playerId: errors} mapping; an entry names the player as
"playerId" and its fields as the keys of an "errors" mapping, or as a list of field names or
{"property"|"field"|"path": name} objects. Only field names are kept: PEP's error messages may
echo personal values and never reach the trail.

The file is parsed as a stream (ijson), inflating only what is read, and refused past
RECONCILIATION_DETAILS_MAX_VALUES values or RECONCILIATION_DETAILS_MAX_DEPTH levels.

A download that fails (no answer, too large, not gzip, not JSON, too many values, too deep, an
unknown shape, or an unexpected error) is recorded as a `details_failed` step and retried with
backoff, up to RECONCILIATION_DETAILS_MAX_ATTEMPTS, then given up with a `failed` step; so is one
whose last attempt never finished (its worker died).
A URL the client refuses (neither PEP's host nor in PEP_DETAILS_ALLOWED_HOSTS, or plain HTTP on
an allowed host outside DEBUG) is recorded and given up at once: it would be refused again. A
repeat of the feedback with another detailsURL re-arms the download.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, BinaryIO

import ijson
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from pepbridge import backoff
from pepbridge.pep.client import get_pep_client
from pepbridge.pep.errors import PepError
from reconciliation.items import open_items
from reconciliation.models import AuditStep, FeedbackDownload
from reconciliation.repair import repair_player

logger = logging.getLogger("reconciliation")

FEEDBACK_CAUSE = "task:reconciliation.fetch_feedback"
UNSPECIFIED_FIELD = "(unspecified)"
LEASE = timedelta(minutes=10)  # longer than any download may take; then another may retry
_LIST_KEYS = ("players", "invalidPlayers", "errors", "failed", "details")
_NAME_KEYS = ("property", "field", "path", "name")
Kind = AuditStep.Kind


# URLs the client refuses to fetch: the same URL would be refused again, so no retry.
REFUSED_URL_CLASSES = frozenset({"foreign_url", "insecure_url"})


class DetailsError(Exception):
    """The details file could not be had or read; `error_class` is a short stable label.

    `permanent`: retrying the same URL cannot help (it is not one we may fetch).
    """

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.permanent = error_class in REFUSED_URL_CLASSES


def download_details(url: str) -> dict[str, list[str]]:
    """Fetch and parse the details at `url` -> {playerId: [field names]} (raises DetailsError).

    PEP's own host gets our token; an allowed other host (PEP_DETAILS_ALLOWED_HOSTS) none.
    """
    try:
        response = get_pep_client().download(url, limit=settings.RECONCILIATION_DETAILS_MAX_BYTES)
    except PepError as exc:
        raise DetailsError(exc.error_class, str(exc)) from None
    return parse_details(read_json(_json_stream(response.body, response.headers)))


def _json_stream(body: bytes, headers: Mapping[str, str]) -> BinaryIO | _Inflater:
    """The JSON bytes of a gzip body, inflated as they are read."""
    if body[:2] == b"\x1f\x8b":
        return _Inflater(body, settings.RECONCILIATION_DETAILS_MAX_JSON_BYTES)
    if "gzip" in headers.get("Content-Encoding", "").lower():
        return io.BytesIO(body)  # served with Content-Encoding: gzip, already decoded on the way in
    raise DetailsError("not_gzip", "the details are not gzip-compressed")


class _Inflater:
    """A file-like reader of a gzip body that inflates only what is read, up to `limit` bytes."""

    def __init__(self, body: bytes, limit: int) -> None:
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = body
        self._limit = limit
        self._total = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson's probe for bytes or text
        size = size if size > 0 else 64 * 1024
        data = b""
        while not data and self._input and not self._zlib.eof:
            try:
                data = self._zlib.decompress(self._input, size)
            except zlib.error:
                raise DetailsError("not_gzip", "the details are not valid gzip") from None
            self._input = self._zlib.unconsumed_tail
        if not data and not self._zlib.eof:
            raise DetailsError("not_gzip", "the gzip stream is truncated")
        self._total += len(data)
        if self._total > self._limit:
            raise DetailsError("too_large", f"the details unpack to more than {self._limit} bytes")
        return data


def read_json(stream: BinaryIO | _Inflater) -> Any:
    """The document read from `stream` event by event, refusing more than
    RECONCILIATION_DETAILS_MAX_VALUES values or RECONCILIATION_DETAILS_MAX_DEPTH nesting.

    json.loads of a 99 MiB `[[],[],...]` took 34 s and 2.7 GB, and a deeply nested file raised
    RecursionError: here either stops at its bound, having built at most that many values.
    """
    max_values = settings.RECONCILIATION_DETAILS_MAX_VALUES
    max_depth = settings.RECONCILIATION_DETAILS_MAX_DEPTH
    builder = _Builder()
    try:
        for event, value in ijson.basic_parse(stream, use_float=True):
            builder.event(event, value)
            if builder.values > max_values:
                raise DetailsError("too_many_values", f"the details hold over {max_values} values")
            if len(builder.stack) > max_depth:
                raise DetailsError("too_deep", f"the details nest deeper than {max_depth} levels")
    except (ijson.JSONError, UnicodeDecodeError, ValueError):
        raise DetailsError("not_json", "the details are not JSON") from None
    if not builder.done:
        raise DetailsError("not_json", "the details are not JSON")
    return builder.root


class _Builder:
    """Python values from ijson's basic events, counting values as they are made."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [container, pending key] per open container
        self.root: Any = None
        self.done = False
        self.values = 0

    def event(self, event: str, value: Any) -> None:
        if event == "map_key":
            self.stack[-1][1] = value
        elif event in ("end_map", "end_array"):
            self.stack.pop()
        else:
            container: Any = {} if event == "start_map" else [] if event == "start_array" else None
            self._attach(value if container is None else container)
            if container is not None:
                self.stack.append([container, None])

    def _attach(self, value: Any) -> None:
        self.values += 1
        if not self.stack:
            self.root, self.done = value, True
        elif isinstance(self.stack[-1][0], list):
            self.stack[-1][0].append(value)
        else:
            self.stack[-1][0][self.stack[-1][1]] = value


def parse_details(data: Any) -> dict[str, list[str]]:
    """{playerId: [field names]} from the accepted shapes (see the module docstring)."""
    if isinstance(data, Mapping):
        found = next((data[k] for k in _LIST_KEYS if k in data), None)
        if found is None and data and all(isinstance(v, Mapping | list) for v in data.values()):
            found = data  # {playerId: errors}
        data = found
    if isinstance(data, Mapping):
        entries: Any = ({"playerId": k, "errors": v} for k, v in data.items())
    elif isinstance(data, list):
        entries = data
    else:
        raise DetailsError("unexpected_shape", "the details are not a list of players")
    result: dict[str, list[str]] = {}
    for entry in entries:
        player_id = entry.get("playerId") if isinstance(entry, Mapping) else None
        if isinstance(player_id, str | int) and str(player_id).strip():
            names = result.setdefault(str(player_id).strip()[:128], [])
            names.extend(n for n in _field_names(entry) if n not in names)
    for names in result.values():
        names[:] = names or [UNSPECIFIED_FIELD]
    return result


def _field_names(entry: Mapping[str, Any]) -> Iterator[str]:
    errors = entry.get("errors", entry.get("fields", entry.get("missingFields")))
    if isinstance(errors, Mapping):
        candidates: list[Any] = list(errors)
    elif isinstance(errors, list):
        candidates = [
            next((e.get(k) for k in _NAME_KEYS if e.get(k)), None) if isinstance(e, Mapping) else e
            for e in errors
        ]
    else:
        candidates = []
    for name in candidates:
        if isinstance(name, str) and name.strip():
            yield name.strip()[:100]


def feedback_fetch(download_id: int, *, cause: str = FEEDBACK_CAUSE) -> str:
    """Download one feedback's details and open its items; returns done/failed/skipped.

    Never raises for a bad file or an unreachable PEP: the failure is recorded and retried.
    The claim (a conditional UPDATE) keeps two workers from downloading the same file.
    """
    download = _claim(download_id, cause)
    if download is None:
        return "skipped"
    try:
        per_player = download_details(download.url)
        _record_entries(download, per_player, cause)
    except DetailsError as exc:
        _record_failure(download, exc, cause)
        return "failed"
    except Exception as exc:
        # A bug or a database error: recorded and retried like any failure (then given up),
        # rather than left to the lease, which re-claimed such a file every 10 minutes forever.
        logger.exception("feedback details: unexpected error", extra={"download": download.pk})
        _record_failure(download, DetailsError("unexpected", type(exc).__name__), cause)
        return "failed"
    for player_id in per_player:
        repair_player(player_id, cause=cause)
    return "done"


def _claim(download_id: int, cause: str) -> FeedbackDownload | None:
    """Take a due download for one attempt; one whose attempts are spent is given up instead."""
    now = timezone.now()
    due = FeedbackDownload.objects.filter(
        pk=download_id, status=FeedbackDownload.Status.PENDING, next_attempt_at__lte=now
    )
    limit = settings.RECONCILIATION_DETAILS_MAX_ATTEMPTS
    claimed = due.filter(attempts__lt=limit).update(
        attempts=F("attempts") + 1, next_attempt_at=now + LEASE, updated_at=now
    )
    if claimed == 1:
        return FeedbackDownload.objects.select_related("request").get(pk=download_id)
    _give_up_unfinished(due.filter(attempts__gte=limit), cause)
    return None


@transaction.atomic
def _give_up_unfinished(spent: QuerySet[FeedbackDownload], cause: str) -> None:
    """Fail a download whose last attempt never recorded its outcome (the worker died)."""
    download = spent.select_for_update(of=("self",)).select_related("request").first()
    if download is None:
        return
    detail = f"attempt {download.attempts} did not finish (the worker stopped)"
    _request_step(download, Kind.DETAILS_FAILED, cause, detail)
    _request_step(download, Kind.FAILED, cause, f"gave up after {download.attempts} attempts")
    download.status = FeedbackDownload.Status.FAILED
    download.last_error = detail
    download.updated_at = timezone.now()
    download.save(update_fields=["status", "last_error", "updated_at"])


def _request_step(download: FeedbackDownload, kind: str, cause: str, detail: str) -> None:
    AuditStep.objects.create(request=download.request, kind=kind, cause=cause, detail=detail[:500])


@transaction.atomic
def _record_failure(download: FeedbackDownload, exc: DetailsError, cause: str) -> None:
    detail = f"attempt {download.attempts}: {exc.error_class}: {exc}"
    _request_step(download, Kind.DETAILS_FAILED, cause, detail)
    download.last_error = detail[:500]
    download.updated_at = timezone.now()
    if exc.permanent:
        download.status = FeedbackDownload.Status.FAILED
        _request_step(download, Kind.FAILED, cause, "gave up: the URL may not be fetched")
    elif download.attempts >= settings.RECONCILIATION_DETAILS_MAX_ATTEMPTS:
        download.status = FeedbackDownload.Status.FAILED
        _request_step(download, Kind.FAILED, cause, f"gave up after {download.attempts} attempts")
    else:
        minutes = backoff.delay(download.attempts, base=1, cap=360)  # 1, 2, 4 ... 360
        download.next_attempt_at = download.updated_at + timedelta(minutes=minutes)
    download.save(update_fields=["status", "last_error", "updated_at", "next_attempt_at"])
    logger.warning(
        "feedback details not fetched",
        extra={"request": download.request_id, "error_class": exc.error_class},
    )


@transaction.atomic
def _record_entries(
    download: FeedbackDownload, per_player: dict[str, list[str]], cause: str
) -> None:
    pairs = [(player_id, name) for player_id, names in per_player.items() for name in names]
    open_items(download.request, pairs, cause=cause)
    detail = f"{len(per_player)} players, {len(pairs)} fields"
    _request_step(download, Kind.DETAILS_DOWNLOADED, cause, detail)
    download.status = FeedbackDownload.Status.DONE
    download.last_error = ""
    download.updated_at = timezone.now()
    download.save(update_fields=["status", "last_error", "updated_at"])
