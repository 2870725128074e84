"""Socket events of geo: ``location:update``, ``map:subscribe``, ``map:unsubscribe``.

Server-to-client: ``map:snapshot``, ``user:location``, ``user:gone``
(payloads in docs/realtime.md). Map fan-out arrives as ``map.cell`` messages
on ``cell.<geohash>`` groups and is filtered per viewer here, with the
visibility rule, before anything is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from core.errors import InvalidInput, validation_fields
from realtime.publish import handler, run_sync

from . import services
from .grid import haversine_m, tiles_for_circle
from .selectors import TargetState, ViewerContext, map_nodes_list, viewer_context_get, visibility_allows
from .serializers import AreaQuerySerializer


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


def _jsonable_node(node: dict) -> dict:
    out = dict(node)
    out["user_id"] = str(node["user_id"])
    out["location_updated_at"] = node["location_updated_at"].isoformat()
    return out


@handler("location:update", "location_update")
async def location_update(consumer, data):
    """Record a fix through ``geo.services.location_record``; ack ``{"stored", "status", ...}``."""
    result = await run_sync(services.location_record)(consumer.user, data)
    return result.as_dict()


class _SubscribeSerializer(AreaQuerySerializer):
    role = None


def _area(data) -> tuple[float, float, float | None]:
    if not isinstance(data, dict):
        raise InvalidInput("Expected an object with lat, lng and radius.")
    params = _SubscribeSerializer(data=data)
    if not params.is_valid():
        message, fields = validation_fields(params.errors)
        raise InvalidInput(message, fields=fields)
    v = params.validated_data
    return v["lat"], v["lng"], v.get("radius")


def _default_radius(user) -> float:
    return float(viewer_context_get(user).search_radius_m)


def _snapshot(user, lat, lng, radius):
    viewer = viewer_context_get(user)
    radius = radius or viewer.search_radius_m
    nodes = map_nodes_list(viewer, lat=lat, lng=lng, radius_m=radius)
    return viewer, radius, [_jsonable_node(n) for n in nodes]


@handler("map:subscribe")
async def map_subscribe(consumer, data):
    """Subscribe to the live map of a circle ``{lat, lng, radius?}`` (degrees, metres).

    Replaces any previous subscription of this socket. Sends ``map:snapshot``
    ``{"count", "results"}`` (the map nodes), then streams ``user:location``
    and ``user:gone``. Ack ``{"radius", "tiles"}``.
    """
    lat, lng, radius = _area(data)
    await map_unsubscribe_all(consumer)
    if radius is None:
        radius = await run_sync(_default_radius)(consumer.user)
    # Join the tiles before taking the snapshot: a change published in
    # between is queued and applied after the snapshot is sent.
    groups = tiles_for_circle(lat, lng, radius)
    for group in groups:
        await consumer.channel_layer.group_add(group, consumer.channel_name)
    viewer, radius, nodes = await run_sync(_snapshot)(consumer.user, lat, lng, radius)
    sub = MapSubscription(lat=lat, lng=lng, radius_m=radius, groups=groups, viewer=viewer)
    sub.visible = {n["user_id"] for n in nodes}
    consumer.map_subscription = sub
    await consumer.send_event("map:snapshot", {"count": len(nodes), "results": nodes})
    return {"radius": radius, "tiles": len(groups)}


async def map_unsubscribe_all(consumer) -> None:
    """Leave every ``cell.*`` group this socket joined and forget its map state."""
    sub = getattr(consumer, "map_subscription", None)
    consumer.map_subscription = None
    if sub:
        for group in sub.groups:
            await consumer.channel_layer.group_discard(group, consumer.channel_name)


@handler("map:unsubscribe")
async def map_unsubscribe(consumer, data):
    """Stop the live map of this socket; ack ``{"subscribed": false}``."""
    await map_unsubscribe_all(consumer)
    return {"subscribed": False}


def _epoch_dt(value) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


async def map_cell_received(consumer, message: dict) -> None:
    """Apply the visibility rule to one ``map.cell`` message for this socket's viewer.

    Sends ``user:location`` when the target is visible inside the circle,
    ``user:gone`` when a target this socket was shown no longer is.
    """
    sub: MapSubscription | None = getattr(consumer, "map_subscription", None)
    if sub is None:
        return
    uid = message["user_id"]
    seq = message.get("seq", 0)
    if sub.last_seq.get(uid) == seq:
        return  # the same change reached us through two tiles
    sub.last_seq[uid] = seq
    target = TargetState(
        user_id=uuid.UUID(uid),
        sharing=bool(message.get("visible")),
        roles=frozenset(message.get("roles") or []),
        visible_roles=frozenset(message.get("visible_roles") or []),
        recorded_at=_epoch_dt(message.get("recorded_at")),
    )
    allowed = (
        message.get("lat") is not None
        and visibility_allows(sub.viewer, target)
        and haversine_m(sub.lat, sub.lng, message["lat"], message["lng"]) <= sub.radius_m
    )
    if allowed:
        sub.visible.add(uid)
        published_at = message.get("published_at")
        await consumer.send_event(
            "user:location",
            {
                "user_id": uid,
                "lat": round(message["lat"], 7),
                "lng": round(message["lng"], 7),
                "precision_m": float(settings.MAP_GRID_M),
                "timestamp": _epoch_dt(published_at).isoformat() if published_at else None,
                "published_at": published_at,
            },
        )
    elif uid in sub.visible:
        sub.visible.discard(uid)
        sub.last_seq.pop(uid, None)
        await consumer.send_event("user:gone", {"user_id": uid})


async def map_refresh_received(consumer) -> None:
    """Re-read the viewer's context (roles, filters, blocks) and re-diff the map.

    Sends ``user:gone`` for users no longer visible and ``user:location`` for
    newly visible ones.
    """
    sub: MapSubscription | None = getattr(consumer, "map_subscription", None)
    if sub is None:
        return
    viewer, _, nodes = await run_sync(_snapshot)(consumer.user, sub.lat, sub.lng, sub.radius_m)
    sub.viewer = viewer
    now_visible = {n["user_id"]: n for n in nodes}
    for uid in sorted(sub.visible - set(now_visible)):
        sub.visible.discard(uid)
        await consumer.send_event("user:gone", {"user_id": uid})
    for uid, node in now_visible.items():
        if uid not in sub.visible:
            sub.visible.add(uid)
            await consumer.send_event(
                "user:location",
                {
                    "user_id": uid,
                    "lat": node["lat"],
                    "lng": node["lng"],
                    "precision_m": node["precision_m"],
                    "timestamp": node["location_updated_at"],
                    "published_at": None,
                },
            )
