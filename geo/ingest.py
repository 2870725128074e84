"""Group commit of fixes: one SQL statement per batch, each fix acknowledged after its commit.

Every ``location:update`` of a process goes through one :class:`FixBatcher`
per event loop. The first fix of a quiet moment is written at once, alone;
fixes that arrive while a batch is being written wait and form the next
batch, so the batch size follows the load and an idle server adds no delay
(group commit as in PostgreSQL's WAL writer). A batch is one worker-thread
hop, one pipelined Redis round trip for the rate limits and one SQL
statement (:func:`geo.services.location_record_many`); each socket awaits
its own fix's outcome, so an ``ack`` still means "committed" (issue 8,
"Group commit for fixes"). Before batching, every fix paid its own thread
hop, Redis round trip and SQL round trip (bench: docs/bench.md).

``POST /api/location`` runs in HTTP worker threads; :class:`ThreadFixBatcher`
does the same for them: the request that finds no batch being written
writes one in its own thread, requests arriving meanwhile wait for the next.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref

from django.conf import settings
from django.utils import timezone

from realtime.publish import run_sync

from . import services

logger = logging.getLogger(__name__)


class FixBatcher:
    """Collects ``(user_id, fix)`` from many sockets of one event loop and writes them in batches."""

    def __init__(self, max_batch: int):
        self.max_batch = max(1, int(max_batch))
        self._queue: list[tuple] = []
        self._task: asyncio.Task | None = None

    async def record(self, user_id, fix: dict) -> services.FixResult:
        """Record one validated fix (``LocationFixInputSerializer`` data); returns its :class:`FixResult`.

        Raises what :func:`geo.services.location_record` raises for that fix
        (``InvalidInput``, ``RateLimited``), or the outage of PostgreSQL or
        Redis that failed its batch. Returns once the fix is committed.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((user_id, fix, timezone.now(), future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                outcomes = await run_sync(services.location_record_many)(
                    [(uid, fix) for uid, fix, _, _ in batch], received_at=[at for _, _, at, _ in batch]
                )
            except Exception as exc:  # the whole batch failed (PostgreSQL or Redis down): each socket hears it
                outcomes = [exc] * len(batch)
            for (_, _, _, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the socket went away while its fix was written
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


_BATCHERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fix_batcher_get() -> FixBatcher:
    """The :class:`FixBatcher` of the running event loop (one per loop: per server process)."""
    loop = asyncio.get_running_loop()
    batcher = _BATCHERS.get(loop)
    if batcher is None:
        batcher = _BATCHERS[loop] = FixBatcher(settings.LOCATION_BATCH_MAX)
    return batcher


class _Slot:
    """One fix waiting in a :class:`ThreadFixBatcher`: its outcome, and whether its thread now leads."""

    __slots__ = ("user_id", "fix", "received_at", "outcome", "finished", "lead", "event")

    def __init__(self, user_id, fix: dict):
        self.user_id, self.fix, self.received_at = user_id, fix, timezone.now()
        self.outcome = None
        self.finished = False
        self.lead = False
        self.event = threading.Event()


class ThreadFixBatcher:
    """Group commit for fixes recorded from threads (the REST path, ``POST /api/location``).

    A thread calling :meth:`record` when no batch is being written becomes
    the *leader*: it writes everything queued (at most ``max_batch`` per
    statement) in its own thread and database connection until its own fix
    is written, then hands the lead to the oldest waiting fix's thread. So a
    quiet server writes each fix at once, a busy one writes one statement for
    all the requests that arrived during the previous one, and no request
    waits behind more than the batches queued before it.
    """

    def __init__(self, max_batch: int):
        self.max_batch = max(1, int(max_batch))
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._writing = False

    def record(self, user_id, fix: dict) -> services.FixResult:
        """Record one validated fix of ``user_id``; returns its :class:`FixResult` once committed.

        Raises what :func:`geo.services.location_record` raises for that fix
        (``InvalidInput``, ``RateLimited``, ``NotFound`` for a deleted user),
        or the outage of PostgreSQL or Redis that failed its batch.
        """
        slot = _Slot(user_id, fix)
        with self._lock:
            self._queue.append(slot)
            leader = not self._writing
            self._writing = True
        if not leader:
            slot.event.wait()
            if slot.lead:  # the previous leader handed over before this fix was written
                leader = True
        if leader:
            self._lead(slot)
        if isinstance(slot.outcome, BaseException):
            raise slot.outcome
        return slot.outcome

    def _lead(self, mine: _Slot) -> None:
        try:
            while not mine.finished:
                with self._lock:
                    batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._write(batch)
        finally:
            with self._lock:
                if self._queue:
                    nxt = self._queue[0]
                    nxt.lead = True
                    nxt.event.set()
                else:
                    self._writing = False

    @staticmethod
    def _write(batch: list[_Slot]) -> None:
        fatal = None
        try:
            outcomes = services.location_record_many(
                [(s.user_id, s.fix) for s in batch], received_at=[s.received_at for s in batch]
            )
        except BaseException as exc:  # the whole batch failed (PostgreSQL or Redis down): each request hears it
            outcomes = [exc] * len(batch)
            fatal = None if isinstance(exc, Exception) else exc
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.outcome = outcome
            slot.finished = True
            slot.event.set()
        if fatal is not None:
            raise fatal


_THREAD_BATCHER: ThreadFixBatcher | None = None
_THREAD_BATCHER_LOCK = threading.Lock()


def thread_fix_batcher_get() -> ThreadFixBatcher:
    """The process-wide :class:`ThreadFixBatcher` (``LOCATION_BATCH_MAX`` fixes per statement)."""
    global _THREAD_BATCHER
    if _THREAD_BATCHER is None:
        with _THREAD_BATCHER_LOCK:
            if _THREAD_BATCHER is None:
                _THREAD_BATCHER = ThreadFixBatcher(settings.LOCATION_BATCH_MAX)
    return _THREAD_BATCHER
