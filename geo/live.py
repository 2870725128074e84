"""The live map's fan-out inside one server process: one Redis message per tick, decoded once.

The map tick (``geo.fanout``) publishes each tick's cell changes as one
Redis pub/sub message on ``<prefix>:map:changes``:
``{"seq", "published_at", "changes": [{<map.cell entry>, "tiles": [group, ...]}]}``.
Every server process that has map subscriptions listens on that channel
with one connection (:class:`MapFanout`, one per event loop), decodes the
message once and hands each change to the local subscriptions of the tiles
it touches, through an index ``tile -> subscriptions`` kept here. Each
subscription applies the visibility rule for its viewer and queues the
frames it may send (``geo.realtime``).

Before this, every change travelled through the Channels layer to every
socket of its tiles: one queue hop and one msgpack decode per socket and
change (city of 1 000 sockets: ~40 % of the loop's samples; docs/bench.md).

A subscription must be indexed *and* the listener subscribed in Redis
before its snapshot is read, so no tick falls between the snapshot and the
live stream: :meth:`MapFanout.add` returns only then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref

import redis.asyncio as aioredis
from django.conf import settings

from core.errors import ServiceUnavailable
from core.redis import key

logger = logging.getLogger(__name__)

#: Offers (subscription x change) judged between two yields to the event loop (~10 ms of work).
YIELD_EVERY_OFFERS = 4000
#: Callbacks run after each tick was handed out (no arguments, on the event loop).
AFTER_DELIVERY: list = []

#: Seconds :meth:`MapFanout.add` waits for the Redis subscription before answering 503.
SUBSCRIBE_TIMEOUT_S = 5.0


def map_changes_channel() -> str:
    """Redis pub/sub channel of the map tick's changes (one message per tick)."""
    return key("map", "changes")


class MapFanout:
    """This event loop's map subscriptions by tile, and the one Redis listener that feeds them.

    A subscription is any object with ``groups`` (tile group names) and
    ``offer_many(changes: list[dict])`` (apply one tile's changes; must not block).
    """

    def __init__(self):
        self.tiles: dict[str, set] = {}
        self.delivering = False
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None

    async def add(self, sub) -> None:
        """Index ``sub`` under its tiles and make sure this process listens (subscribed in Redis on return).

        Raises :class:`core.errors.ServiceUnavailable` (503) when Redis does
        not confirm the subscription within ``SUBSCRIBE_TIMEOUT_S``; ``sub``
        is then not indexed.
        """
        for group in sub.groups:
            self.tiles.setdefault(group, set()).add(sub)
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.ensure_future(self._listen(self._ready))
        try:
            await asyncio.wait_for(asyncio.shield(self._ready.wait()), SUBSCRIBE_TIMEOUT_S)
        except TimeoutError:
            self.remove(sub)
            raise ServiceUnavailable("The live map is unavailable (Redis).", retry_after=SUBSCRIBE_TIMEOUT_S) from None

    def remove(self, sub) -> None:
        """Forget ``sub``; the listener stops when the process has no subscription left."""
        for group in sub.groups:
            subs = self.tiles.get(group)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.tiles[group]
        if not self.tiles and self._task is not None:
            self._task.cancel()
            self._task = None

    def deliver(self, payload: dict) -> int:
        """Hand each change of one tick to the subscriptions of its tiles; returns the offers made.

        Changes are grouped per tile first; then each subscription, in turn,
        gets one call per tile it watches (``offer_many``), in the tick's
        order, so it has its whole tick before the next one starts.
        """
        return sum(self._offer_steps(payload))

    async def deliver_async(self, payload: dict) -> int:
        """:meth:`deliver` on the event loop, letting other sockets' frames through every ``YIELD_EVERY_OFFERS``.

        While it runs, :attr:`delivering` is true. At every yield and at the
        end, every :data:`AFTER_DELIVERY` callback runs (``geo.realtime``
        writes the outboxes then): the subscriptions handled so far have
        their whole tick, so a socket still gets one ``map:changes`` per tick,
        and the first viewers do not wait for the last ones to be judged
        (city of 1 000: delivery p50 98 -> see docs/bench.md, fifth pass).
        """
        self.delivering = True
        offers = budget = 0
        try:
            for count in self._offer_steps(payload):
                offers += count
                budget += count
                if budget >= YIELD_EVERY_OFFERS:
                    budget = 0
                    for callback in AFTER_DELIVERY:
                        callback()
                    await asyncio.sleep(0)  # acks and other frames wait at most one slice
        finally:
            self.delivering = False
            for callback in AFTER_DELIVERY:
                callback()
        return offers

    def _offer_steps(self, payload: dict):
        """Yield the offers made to each subscription, one subscription (all its tiles) per step."""
        seq, published_at = payload.get("seq"), payload.get("published_at")
        by_tile: dict[str, list[dict]] = {}
        tiles = self.tiles
        for change in payload.get("changes", ()):
            change["seq"] = seq
            change["published_at"] = published_at
            for group in change.get("tiles", ()):
                if group in tiles:
                    by_tile.setdefault(group, []).append(change)
        done: set[int] = set()
        for group in by_tile:
            for sub in tuple(tiles.get(group, ())):
                if id(sub) in done:
                    continue
                done.add(id(sub))
                count = 0
                for watched in sub.groups:
                    changes = by_tile.get(watched)
                    if changes:
                        sub.offer_many(changes)
                        count += len(changes)
                yield count

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(map_changes_channel())
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        ready.set()  # Redis confirmed: every later tick reaches this process
                        continue
                    if message.get("type") != "message":
                        continue
                    try:
                        await self.deliver_async(json.loads(message["data"]))
                    except Exception:
                        logger.exception("map tick message not delivered")
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("map changes listener lost Redis; reconnecting in 1 s")
                await asyncio.sleep(1.0)
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # the connection is already gone
                    logger.debug("closing the map changes listener failed", exc_info=True)


_FANOUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def map_fanout_get() -> MapFanout:
    """The :class:`MapFanout` of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    fanout = _FANOUTS.get(loop)
    if fanout is None:
        fanout = _FANOUTS[loop] = MapFanout()
    return fanout
