"""Group commit of socket fixes: one SQL statement per batch, each fix acknowledged after its commit.

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
"""

from __future__ import annotations

import asyncio
import logging
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
