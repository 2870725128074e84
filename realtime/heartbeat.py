"""Presence heartbeats of all the sockets of one server process, in one task and one Redis call.

Each open socket must refresh its presence entry (``realtime.presence``)
more often than ``PRESENCE_TTL_S``. A task per socket did that with its own
timer, thread hop and Redis round trip: with 10 000 idle sockets, 500 of
each per second and about 1.5 KiB of task and coroutine per socket (issue 8,
"5 000 idle sockets <= 40 KiB"; docs/bench.md, fifth pass). Here one task
per event loop touches every registered socket every ``PRESENCE_TTL_S / 3``
seconds (at least 1 s) with :func:`realtime.presence.presence_touch_many`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings

from . import presence
from .publish import run_sync

logger = logging.getLogger(__name__)


def heartbeat_interval_s() -> float:
    """Seconds between two touches of a socket: a third of ``PRESENCE_TTL_S``, at least 1."""
    return max(1.0, settings.PRESENCE_TTL_S / 3)


class PresenceHeartbeat:
    """The sockets of one event loop whose presence is kept alive: ``channel_name -> user_id``."""

    def __init__(self):
        self.sockets: dict[str, object] = {}
        self._task: asyncio.Task | None = None

    def add(self, channel_name: str, user_id) -> None:
        """Keep ``channel_name`` (a socket of ``user_id``) alive from now on (its connect touched it)."""
        self.sockets[channel_name] = user_id
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def remove(self, channel_name: str) -> None:
        """Stop touching ``channel_name`` (the socket closed); the task ends with the last socket."""
        self.sockets.pop(channel_name, None)
        if not self.sockets and self._task is not None:
            self._task.cancel()
            self._task = None

    async def beat(self) -> int:
        """Touch every registered socket now, in one Redis call; returns how many."""
        entries = [(user_id, channel) for channel, user_id in self.sockets.items()]
        if entries:
            await run_sync(presence.presence_touch_many)(entries)
        return len(entries)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(heartbeat_interval_s())
            try:
                await self.beat()
            except Exception:  # Redis down: the next beat tries again; entries live 2 x TTL
                logger.exception("presence heartbeat of %s sockets failed", len(self.sockets))


_HEARTBEATS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def heartbeat_get() -> PresenceHeartbeat:
    """The :class:`PresenceHeartbeat` of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    beat = _HEARTBEATS.get(loop)
    if beat is None:
        beat = _HEARTBEATS[loop] = PresenceHeartbeat()
    return beat
