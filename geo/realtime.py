"""Socket events of geo: ``location:update``, ``map:subscribe``, ``map:unsubscribe``.

Server-to-client: ``map:snapshot``, ``user:location``, ``user:gone``
(builders in ``geo/events.py``). Map fan-out arrives as ``map.cell`` messages
on ``cell.<geohash>`` groups and is filtered per viewer here, with the
visibility rule, before anything is sent. The socket's map state is
``consumer.state["geo"]`` (a :class:`MapSubscription`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from django.conf import settings

from core.errors import RateLimited
from core.ratelimit import rate_parse
from core.validation import validated
from realtime.publish import run_sync
from realtime.registry import handler, on_disconnect, on_message

from . import events
from .grid import haversine_m, tiles_for_circle
from .ingest import fix_batcher_get
from .selectors import TargetState, ViewerContext, map_nodes_list, viewer_context_get, visibility_allows
from .serializers import AreaQuerySerializer, location_fix_parse


@dataclass
class MapSubscription:
    """A socket's live map area and what it has been told so far."""

    lat: float
    lng: float
    radius_m: float
    groups: list[str]
    viewer: ViewerContext
    visible: set[str] = field(default_factory=set)
    last_seq: dict[str, int] = field(default_factory=dict)


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
    """Subscribe to the live map of a circle ``{lat, lng, radius?}`` (degrees, metres).

    Replaces any previous subscription of this socket. Sends ``map:snapshot``
    ``{"count", "results"}`` (the map nodes), then streams ``user:location``
    and ``user:gone``. Ack ``{"radius", "tiles"}``. Errors: ``invalid`` (400),
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
    # Join the tiles before taking the snapshot: a change published in
    # between is queued and applied after the snapshot is sent.
    for group in groups:
        await consumer.channel_layer.group_add(group, consumer.channel_name)
    sub = MapSubscription(lat=lat, lng=lng, radius_m=radius, groups=groups, viewer=None)
    _state(consumer).subscription = sub
    viewer, radius, nodes = await run_sync(_snapshot)(consumer.user, lat, lng, radius)
    sub.viewer = viewer
    sub.radius_m = radius
    sub.visible = {n["user_id"] for n in nodes}
    await consumer.send_event("map:snapshot", events.map_snapshot(nodes))
    return {"radius": radius, "tiles": len(groups)}


@on_disconnect
async def map_unsubscribe_all(consumer) -> None:
    """Leave every ``cell.*`` group this socket joined and forget its map state (also on disconnect)."""
    state = consumer.state.get("geo")
    sub = state.subscription if state else None
    if state:
        state.subscription = None
    if sub:
        for group in sub.groups:
            await consumer.channel_layer.group_discard(group, consumer.channel_name)


@handler("map:unsubscribe")
async def map_unsubscribe(consumer, data):
    """Stop the live map of this socket; ack ``{"subscribed": false}``."""
    await map_unsubscribe_all(consumer)
    return {"subscribed": False}


#: Encoded ``user:location`` frames by (user id, tick seq, lat, lng): every viewer allowed to see
#: one cell change gets the same bytes, so the frame is built and encoded once per process.
_FRAME_CACHE: dict[tuple, str] = {}
_FRAME_CACHE_MAX = 20_000


def _location_frame(message: dict) -> str:
    cache_key = (message["user_id"], message.get("seq"), message["lat"], message["lng"], message.get("published_at"))
    frame = _FRAME_CACHE.get(cache_key)
    if frame is None:
        if len(_FRAME_CACHE) >= _FRAME_CACHE_MAX:
            _FRAME_CACHE.clear()
        data = events.user_location(
            message["user_id"], message["lat"], message["lng"], settings.MAP_GRID_M, message.get("published_at")
        )
        frame = _FRAME_CACHE[cache_key] = json.dumps({"event": "user:location", "data": data})
    return frame


@on_message("map.cell")
async def map_cell_received(consumer, message: dict) -> None:
    """Apply the visibility rule to one ``map.cell`` message for this socket's viewer.

    Sends ``user:location`` when the target is visible inside the circle,
    ``user:gone`` when a target this socket was shown no longer is.
    """
    state = consumer.state.get("geo")
    sub: MapSubscription | None = state.subscription if state else None
    if sub is None or sub.viewer is None:
        return
    uid = message["user_id"]
    seq = message.get("seq", 0)
    if sub.last_seq.get(uid) == seq:
        return  # the same change reached us through two tiles
    sub.last_seq[uid] = seq
    target = TargetState.from_message(message)
    allowed = (
        message.get("lat") is not None
        and visibility_allows(sub.viewer, target)
        and haversine_m(sub.lat, sub.lng, message["lat"], message["lng"]) <= sub.radius_m
    )
    if allowed:
        sub.visible.add(uid)
        await consumer.send(text_data=_location_frame(message))
    elif uid in sub.visible:
        sub.visible.discard(uid)
        sub.last_seq.pop(uid, None)
        await consumer.send_event("user:gone", events.user_gone(uid))


@on_message("map.refresh")
async def map_refresh_received(consumer, message: dict | None = None) -> None:
    """Re-read the viewer's context (roles, filters, blocks) and re-diff the map.

    Sends ``user:gone`` for users no longer visible and ``user:location`` for
    newly visible ones (``timestamp``/``published_at`` null: no tick published them).
    """
    state = consumer.state.get("geo")
    sub: MapSubscription | None = state.subscription if state else None
    if sub is None:
        return
    viewer, _, nodes = await run_sync(_snapshot)(consumer.user, sub.lat, sub.lng, sub.radius_m)
    sub.viewer = viewer
    now_visible = {n["user_id"]: n for n in nodes}
    for uid in sorted(sub.visible - set(now_visible)):
        sub.visible.discard(uid)
        await consumer.send_event("user:gone", events.user_gone(uid))
    for uid, node in now_visible.items():
        if uid not in sub.visible:
            sub.visible.add(uid)
            await consumer.send_event(
                "user:location", events.user_location(uid, node["lat"], node["lng"], node["precision_m"], None)
            )
