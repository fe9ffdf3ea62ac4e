"""Many requests to PEP in flight per worker: one thread per lane (a player's claimed rows).

Only HTTP happens on these threads; every database read and write stays on the worker's own
thread (django connections are per thread, and a pool of 32 threads must not mean 32 database
connections). A lane is the rows one claim leased for one player, in order: its thread sends
them one after the other, so a player never has two requests in flight and never overtakes
itself, while up to OUTBOX_MAX_IN_FLIGHT lanes (players) are sent at once.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from events.models import DeliveryAttempt, OutboxMessage

logger = logging.getLogger("events")

Outcome = DeliveryAttempt.Outcome


@dataclass
class LaneDone:
    """A lane's thread finished: rows it did not send go back (no attempt counted).

    `retry_at` is set when the lane stopped because its head now waits for a retry: the lane
    is parked until then. Otherwise it is ready to be claimed again at once.
    """

    player_id: str | None
    token: str
    unsent: list[OutboxMessage] = field(default_factory=list)
    lease_too_short: bool = False
    retry_at: datetime | None = None


@dataclass
class LaneCrashed:
    """A BaseException (KeyboardInterrupt, SystemExit, a test's simulated kill) on a lane."""

    error: BaseException


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def pool(size: int) -> ThreadPoolExecutor:
    """This process's thread pool of `size` (made after a fork, never shared with a parent)."""
    key = (os.getpid(), size)
    with _pools_lock:
        executor = _pools.get(key)
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="outbox-send")
            _pools[key] = executor
    return executor


def lanes(rows: list[OutboxMessage]) -> list[list[OutboxMessage]]:
    """Group claimed rows by lane key, keeping each lane's order; rows without one stand alone."""
    by_player: dict[str, list[OutboxMessage]] = {}
    out: list[list[OutboxMessage]] = []
    for row in rows:
        if row.lane is None:
            out.append([row])
        elif row.lane in by_player:
            by_player[row.lane].append(row)
        else:
            by_player[row.lane] = lane = [row]
            out.append(lane)
    return out


class Sender:
    """Runs lanes on the pool and hands their results back to the worker's thread, in a queue.

    `send(row)` returns the attempt's Result; `late()` says whether a send starting now could end
    after the pass's deadline; `margin` is how long a row's lease must still run to start one.

    At most `max_unrecorded` rows are sent (or being sent) and not yet recorded: a thread waits
    for room before each send, and the worker's thread makes room with `recorded(n)` once it
    wrote their outcomes. That is what bounds the re-sends of a worker killed mid-pass; without
    it, the threads kept sending while a slow outcome write ran, and a kill then re-sent them all.
    """

    def __init__(
        self,
        *,
        size: int,
        send: Callable[[OutboxMessage], object],
        late: Callable[[], bool],
        margin: timedelta,
        max_unrecorded: int,
    ) -> None:
        self.size = size
        self._send = send
        self._late = late
        self._margin = margin
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.running = 0  # lanes submitted and not yet done
        self.max_unrecorded = max_unrecorded
        self._unrecorded = 0  # sends started whose outcome is not written yet
        self._room = threading.Condition()
        self._stopped = False

    def recorded(self, count: int) -> None:
        """`count` outcomes are written: their sends no longer count against the bound."""
        with self._room:
            self._unrecorded -= count
            self._room.notify_all()

    def stop(self) -> None:
        """The pass is over (or failed): threads waiting for room give their lanes back unsent."""
        with self._room:
            self._stopped = True
            self._room.notify_all()

    def _reserve(self) -> bool:
        """Wait for room to start one more send; False when the pass must end first."""
        with self._room:
            while self._stopped or self._unrecorded >= self.max_unrecorded:
                if self._stopped or self._late():
                    return False
                self._room.wait(timeout=0.1)
            self._unrecorded += 1
            return True

    def _unreserve(self) -> None:
        self.recorded(1)

    def submit(self, rows: list[OutboxMessage]) -> None:
        executor = pool(self.size)
        for lane in lanes(rows):
            self.running += 1
            executor.submit(self._run, lane)

    def items(self, timeout: float) -> Iterator[object]:
        """Results and LaneDone markers: waits up to `timeout` for the first, then drains."""
        try:
            item = self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return
        while True:
            if isinstance(item, LaneDone):
                self.running -= 1
            elif isinstance(item, LaneCrashed):
                self.running -= 1
                raise item.error
            yield item
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return

    def _run(self, lane: list[OutboxMessage]) -> None:
        try:
            self._queue.put(self._send_lane(lane))
        except BaseException as exc:  # handed to the worker's thread, which re-raises it
            self._queue.put(LaneCrashed(exc))
        finally:
            _close_thread_connections()

    def _send_lane(self, lane: list[OutboxMessage]) -> LaneDone:
        player, token = lane[0].lane, lane[0].claimed_by
        for index, row in enumerate(lane):
            if not self._reserve():
                return LaneDone(player, token, lane[index:])
            if self._late():
                self._unreserve()
                return LaneDone(player, token, lane[index:])
            if lease_too_short(row, self._margin):
                self._unreserve()
                return LaneDone(player, token, lane[index:], lease_too_short=index == 0)
            result = self._send(row)
            self._queue.put(result)
            if getattr(result, "transient", False):
                # The player's head now waits for its retry: its later rows must not overtake.
                retry_at = getattr(result, "next_attempt_at", None)
                return LaneDone(player, token, lane[index + 1 :], retry_at=retry_at)
        return LaneDone(player, token)


def lease_too_short(row: OutboxMessage, margin: timedelta) -> bool:
    return row.lease_expires_at is not None and timezone.now() + margin > row.lease_expires_at


def _close_thread_connections() -> None:
    """A send thread opens a connection only for a token refresh after a 401; do not leak it."""
    for conn in connections.all(initialized_only=True):
        conn.close()
