"""Socket events of geo: ``location:update``, ``map:subscribe``, ``map:unsubscribe``.

Server-to-client: ``map:snapshot``, ``user:location``, ``user:gone``,
``map:changes`` (builders in ``geo/events.py``). The map tick's changes
reach each process once (``geo.live``) and are handed to the
:class:`MapSubscription` of each socket watching their tiles, which filters
them per viewer with the visibility rule before anything is sent. The
socket's map state is ``consumer.state["geo"]`` (a :class:`GeoSocketState`).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import weakref
from dataclasses import dataclass, field

from django.conf import settings
from rest_framework import serializers

from core.errors import RateLimited
from core.ratelimit import rate_parse
from core.validation import validated
from realtime.catalog import event_frame
from realtime.publish import run_sync
from realtime.registry import handler, on_disconnect, on_message

from . import events
from .grid import METRES_PER_DEGREE, haversine_m, tiles_for_circle
from .ingest import fix_batcher_get
from .live import AFTER_DELIVERY, map_fanout_get
from .selectors import (
    TargetState,
    ViewerContext,
    location_fresh_after,
    map_nodes_list,
    viewer_context_get,
    visibility_allows,
)
from .serializers import AreaQuerySerializer, location_fix_parse


@dataclass(eq=False)
class MapSubscription:
    """A socket's live map area, what it has been told so far, and its outgoing map frames.

    ``pending``: changes that arrived while the snapshot was being read
    (applied right after it, latest per user); ``outbox``: frames waiting to
    be written, latest per user (a slow client gets each target's newest
    state, never a backlog), written in order by one task per socket so a
    slow client never holds up the process's fan-out.
    """

    lat: float
    lng: float
    radius_m: float
    groups: list[str]
    viewer: ViewerContext | None
    consumer: object = None
    visible: set[str] = field(default_factory=set)
    last_seq: dict[str, int] = field(default_factory=dict)
    batch: bool = False
    pending: dict[str, dict] = field(default_factory=dict)
    outbox: dict[str, str] = field(default_factory=dict)
    active: bool = True
    _drain_task: asyncio.Task | None = None
    _box_key: tuple | None = None
    _box_value: tuple | None = None

    def offer(self, change: dict) -> None:
        """One map change from the tick (``geo.live``): judge it for this viewer and queue the frame, if any."""
        if not self.active:
            return
        if self.viewer is None:
            self.pending.pop(change["user_id"], None)
            self.pending[change["user_id"]] = change
            return
        data_json = _cell_change_judge(self, change)
        if data_json is not None:
            self.queue(change["user_id"], data_json)

    def offer_many(self, changes: list[dict]) -> None:
        """The changes of one tile and tick, in order: :meth:`offer` each, skipping the far ones cheaply.

        A change whose point lies outside the circle's bounding box (a
        conservative box, none near the poles or the antimeridian) and whose
        user this socket is not showing needs no judgement: it can only be
        "nothing to send". Every other change goes through the full rule.
        """
        if not self.active:
            return
        if self.viewer is None:
            for change in changes:
                self.offer(change)
            return
        box = self._box()
        visible = self.visible
        queued = False
        for change in changes:
            lat = change["lat"]
            if box is not None and change["user_id"] not in visible:
                if lat is None:
                    continue
                lng = change["lng"]
                if lat < box[0] or lat > box[1] or lng < box[2] or lng > box[3]:
                    continue
            data_json = _cell_change_judge(self, change)
            if data_json is not None:
                uid = change["user_id"]
                self.outbox.pop(uid, None)
                self.outbox[uid] = data_json
                queued = True
        if queued:
            _flush_schedule(self)

    def _box(self) -> tuple[float, float, float, float] | None:
        """``(min_lat, max_lat, min_lng, max_lng)`` holding the circle with 1 % to spare, or ``None``."""
        key = (self.lat, self.lng, self.radius_m)
        if self._box_key != key:
            dlat = self.radius_m / METRES_PER_DEGREE * 1.01 + 1e-6
            low, high = self.lat - dlat, self.lat + dlat
            cos = math.cos(math.radians(max(abs(low), abs(high))))
            box = None
            if low > -89.0 and high < 89.0 and cos > 1e-3:
                dlng = dlat / cos
                if -180.0 < self.lng - dlng and self.lng + dlng < 180.0:
                    box = (low, high, self.lng - dlng, self.lng + dlng)
            self._box_key, self._box_value = key, box
        return self._box_value

    def queue(self, uid: str, data_json: str) -> None:
        """Queue news of user ``uid`` (replacing unsent older news) and make sure it is written.

        ``data_json``: an encoded ``user:location`` payload, or ``""`` for ``user:gone``.
        """
        self.outbox.pop(uid, None)
        self.outbox[uid] = data_json
        _flush_schedule(self)

    def snapshot_taken(self, viewer: ViewerContext, radius_m: float, visible: set[str]) -> None:
        """The snapshot was sent: judge the changes that arrived meanwhile, then go live."""
        self.viewer, self.radius_m, self.visible = viewer, radius_m, visible
        pending, self.pending = self.pending, {}
        for change in pending.values():
            self.offer(change)

    def close(self) -> None:
        """Stop sending (unsubscribed, replaced or the socket closed)."""
        self.active = False
        self.outbox.clear()
        self.pending.clear()

    def writable(self) -> bool:
        """Whether the socket's transport accepts writes now (uvicorn's flow control; unknown servers: yes)."""
        event = getattr(getattr(getattr(self.consumer, "base_send", None), "__self__", None), "writable", None)
        return event is None or event.is_set()

    async def flush(self) -> None:
        """Write the outbox now while the transport takes it; hand the rest to this socket's own task.

        Called by the tick's one flush task: a write never waits on a paused
        transport here (a slow client), so no socket holds up the others.
        """
        if self._drain_task is not None and not self._drain_task.done():
            return  # its drain task is writing (a slow client): it picks up the new news
        while self.outbox and self.active:
            if not self.writable():
                self._drain_task = asyncio.ensure_future(self._drain())
                return
            if not await self._send_next():
                return

    async def _drain(self) -> None:
        while self.outbox and self.active:
            if not await self._send_next():
                return

    async def _send_next(self) -> bool:
        """Write the next frame (batch mode: all the news in one ``map:changes``); False once the socket is gone."""
        if self.batch:
            news, self.outbox = self.outbox, {}
            frame = _changes_frame(news)
        else:
            uid = next(iter(self.outbox))
            frame = _single_frame(uid, self.outbox.pop(uid))
        try:
            await self.consumer.send(text_data=frame)
        except Exception:  # the socket is gone; its disconnect removes the subscription
            self.close()
            return False
        return True


#: Per event loop: the subscriptions with news and the one task writing them. While a tick is
#: being handed out (``geo.live``) nothing is written, so a socket gets one ``map:changes`` per
#: tick; a task per socket and tick cost ~8 % of the loop in the 1 000-socket city.
_DIRTY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _flush_schedule(sub: MapSubscription) -> None:
    loop = asyncio.get_running_loop()
    state = _DIRTY.get(loop)
    if state is None:
        state = _DIRTY[loop] = {"subs": {}, "task": None}
    state["subs"][id(sub)] = sub
    if not map_fanout_get().delivering:
        _flush_kick()


def _flush_kick() -> None:
    """Start the loop's flush task if there is news and it is not running (``geo.live.AFTER_DELIVERY``)."""
    loop = asyncio.get_running_loop()
    state = _DIRTY.get(loop)
    if state and state["subs"] and (state["task"] is None or state["task"].done()):
        state["task"] = loop.create_task(_flush_all(state["subs"]))


AFTER_DELIVERY.append(_flush_kick)


async def _flush_all(dirty: dict) -> None:
    """Write every dirty subscription's outbox; a socket whose transport is paused gets its own task."""
    written = 0
    while dirty:
        _, sub = dirty.popitem()
        if sub.active and sub.outbox:
            await sub.flush()
            written += 1
            if written % FLUSH_YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let acks and other frames through


#: Sockets written between two yields of the flush task to the event loop.
FLUSH_YIELD_EVERY = 200


def _single_frame(uid: str, data_json: str) -> str:
    if data_json:
        return event_frame("user:location", data_json=data_json)
    return event_frame("user:gone", events.user_gone(uid))


def _changes_frame(news: dict[str, str]) -> str:
    """``map:changes`` (the shape of ``geo.events.map_changes``) from pre-encoded payloads."""
    locations = ",".join(data_json for data_json in news.values() if data_json)
    gone = json.dumps([uid for uid, data_json in news.items() if not data_json])
    return event_frame("map:changes", data_json='{"locations":[' + locations + '],"gone":' + gone + "}")


@dataclass
class GeoSocketState:
    """``consumer.state["geo"]``: the map subscription and the ``map:subscribe`` rate window."""

    subscription: MapSubscription | None = None
    subscribe_window: int = -1
    subscribe_count: int = 0


def _state(consumer) -> GeoSocketState:
    state = consumer.state.get("geo")
    if state is None:
        state = consumer.state["geo"] = GeoSocketState()
    return state


def _jsonable_node(node: dict) -> dict:
    out = dict(node)
    out["user_id"] = str(node["user_id"])
    out["location_updated_at"] = node["location_updated_at"].isoformat()
    return out


@handler("location:update", "location_update")
async def location_update(consumer, data):
    """Record a fix; ack ``{"stored", "status", "recorded_at", "received_at"}`` once it is committed.

    ``data`` is validated as over REST (``geo.serializers.location_fix_parse``,
    the rules of ``LocationFixInputSerializer``), then written with the other
    sockets' fixes of the moment in one group commit (``geo.ingest``).
    Errors: ``invalid`` (400), ``timestamp_in_future`` (400), ``rate_limited``
    (429, ``THROTTLE_LOCATION`` shared with REST), ``service_unavailable`` (503).
    """
    fix = location_fix_parse(data)
    result = await fix_batcher_get().record(consumer.user.pk, fix)
    return result.as_dict()


class _SubscribeSerializer(AreaQuerySerializer):
    role = None
    batch = serializers.BooleanField(required=False, default=False)


def _subscribe_rate_check(consumer) -> None:
    """At most ``WS_MAP_SUBSCRIBE_RATE`` subscriptions per socket per window (fixed window, in memory)."""
    limit, period = rate_parse(settings.WS_MAP_SUBSCRIBE_RATE)
    state = _state(consumer)
    now = time.monotonic()
    window = int(now // period)
    if window != state.subscribe_window:
        state.subscribe_window, state.subscribe_count = window, 0
    state.subscribe_count += 1
    if state.subscribe_count > limit:
        raise RateLimited(
            f"At most {settings.WS_MAP_SUBSCRIBE_RATE} map subscriptions per socket.",
            retry_after=period - (now % period),
        )


def _subscribe_prepare(user, lat, lng, radius):
    """Sync, in a thread: the default radius, the tile cover (CPU) and nothing else."""
    if radius is None:
        radius = float(viewer_context_get(user).search_radius_m)
    return radius, tiles_for_circle(lat, lng, radius)


def _snapshot(user, lat, lng, radius):
    """Sync: the viewer's context from the database (roles and role ages as they are now) and the map nodes.

    The socket's ``consumer.user`` was loaded at the handshake; roles granted,
    dropped or matured since then must count, so the user row is re-read.
    """
    user = type(user).objects.filter(pk=user.pk).first() or user
    viewer = viewer_context_get(user)
    radius = radius or viewer.search_radius_m
    nodes = map_nodes_list(viewer, lat=lat, lng=lng, radius_m=radius)
    return viewer, radius, [_jsonable_node(n) for n in nodes]


@handler("map:subscribe")
async def map_subscribe(consumer, data):
    """Subscribe to the live map of a circle ``{lat, lng, radius?, batch?}`` (degrees, metres).

    Replaces any previous subscription of this socket. Sends ``map:snapshot``
    ``{"count", "results"}`` (the map nodes), then streams ``user:location``
    and ``user:gone``; with ``batch: true``, one ``map:changes`` frame
    ``{"locations", "gone"}`` per tick instead. Ack ``{"radius", "tiles"}``. Errors: ``invalid`` (400),
    ``rate_limited`` (429, past ``WS_MAP_SUBSCRIBE_RATE`` per socket). The
    tile cover is computed off the event loop and joins at most
    ``geo.grid.MAX_TILES_PER_SUBSCRIPTION`` groups, poles and antimeridian
    included.
    """
    values = validated(_SubscribeSerializer, data)
    _subscribe_rate_check(consumer)
    lat, lng = values["lat"], values["lng"]
    await map_unsubscribe_all(consumer)
    radius, groups = await run_sync(_subscribe_prepare)(consumer.user, lat, lng, values.get("radius"))
    # Index the tiles (and have Redis confirm this process listens) before taking the
    # snapshot: a change published in between waits in ``pending`` and is applied after it.
    sub = MapSubscription(
        lat=lat, lng=lng, radius_m=radius, groups=groups, viewer=None, consumer=consumer, batch=values["batch"]
    )
    fanout = map_fanout_get()
    await fanout.add(sub)
    _state(consumer).subscription = sub
    try:
        viewer, radius, nodes = await run_sync(_snapshot)(consumer.user, lat, lng, radius)
        await consumer.send_event("map:snapshot", events.map_snapshot(nodes))
    except BaseException:
        await map_unsubscribe_all(consumer)
        raise
    sub.snapshot_taken(viewer, radius, {n["user_id"] for n in nodes})
    return {"radius": radius, "tiles": len(groups)}


@on_disconnect
async def map_unsubscribe_all(consumer) -> None:
    """Forget this socket's map subscription and its tiles (also on disconnect)."""
    state = consumer.state.get("geo")
    sub = state.subscription if state else None
    if state:
        state.subscription = None
    if sub:
        sub.close()
        map_fanout_get().remove(sub)


@handler("map:unsubscribe")
async def map_unsubscribe(consumer, data):
    """Stop the live map of this socket; ack ``{"subscribed": false}``."""
    await map_unsubscribe_all(consumer)
    return {"subscribed": False}


#: Encoded ``user:location`` payloads by (user id, tick seq, lat, lng, published_at): every viewer
#: allowed to see one cell change gets the same bytes, so it is built and encoded once per process.
_DATA_CACHE: dict[tuple, str] = {}
_DATA_CACHE_MAX = 20_000


def _location_data_json(message: dict) -> str:
    encoded = message.get("_data_json")  # a tick's change dict is shared by the process's subscriptions
    if encoded is not None:
        return encoded
    cache_key = (message["user_id"], message.get("seq"), message["lat"], message["lng"], message.get("published_at"))
    encoded = _DATA_CACHE.get(cache_key)
    if encoded is None:
        if len(_DATA_CACHE) >= _DATA_CACHE_MAX:
            _DATA_CACHE.clear()
        data = events.user_location(
            message["user_id"], message["lat"], message["lng"], settings.MAP_GRID_M, message.get("published_at")
        )
        encoded = _DATA_CACHE[cache_key] = json.dumps(data)
    message["_data_json"] = encoded
    return encoded


def _cell_change_judge(sub: MapSubscription, message: dict) -> str | None:
    """Apply the visibility rule to one change for this viewer.

    Returns the encoded ``user:location`` payload (shared by every viewer of
    the change) when the target is visible inside the circle, ``""`` when a
    target this socket was shown no longer is (``user:gone``), ``None`` when
    nothing is to be sent (including a change already seen through another tile).
    """
    uid = message["user_id"]
    seq = message.get("seq", 0)
    if sub.last_seq.get(uid) == seq:
        return None  # the same change reached us through two tiles
    sub.last_seq[uid] = seq
    # The target's state and the freshness cut-off are computed once per change and process:
    # the change dict is shared by every local subscription of its tiles (geo.live).
    target = message.get("_target")
    if target is None:
        target = message["_target"] = TargetState.from_message(message)
        message["_fresh_after"] = location_fresh_after()
    allowed = (
        message.get("lat") is not None
        and visibility_allows(sub.viewer, target, fresh_after=message["_fresh_after"])
        and haversine_m(sub.lat, sub.lng, message["lat"], message["lng"]) <= sub.radius_m
    )
    if allowed:
        sub.visible.add(uid)
        return _location_data_json(message)
    if uid in sub.visible:
        sub.visible.discard(uid)
        sub.last_seq.pop(uid, None)
        return ""
    return None


@on_message("map.refresh")
async def map_refresh_received(consumer, message: dict | None = None) -> None:
    """Re-read the viewer's context (roles, filters, blocks) and re-diff the map.

    Sends ``user:gone`` for users no longer visible and ``user:location`` for
    newly visible ones (``timestamp``/``published_at`` null: no tick published them).
    """
    state = consumer.state.get("geo")
    sub: MapSubscription | None = state.subscription if state else None
    if sub is None or sub.viewer is None:
        return  # no map, or its snapshot is being read with the context as it is now
    viewer, _, nodes = await run_sync(_snapshot)(consumer.user, sub.lat, sub.lng, sub.radius_m)
    if not sub.active:
        return
    sub.viewer = viewer
    now_visible = {n["user_id"]: n for n in nodes}
    # Through the subscription's outbox, so these frames keep their order with the tick's.
    for uid in sorted(sub.visible - set(now_visible)):
        sub.visible.discard(uid)
        sub.queue(uid, "")
    for uid, node in now_visible.items():
        if uid not in sub.visible:
            sub.visible.add(uid)
            data = events.user_location(uid, node["lat"], node["lng"], node["precision_m"], None)
            sub.queue(uid, json.dumps(data))
