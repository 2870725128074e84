"""Server-to-client events of geo: the live map (one payload builder each, in the catalog)."""

from __future__ import annotations

from datetime import UTC, datetime

from realtime.catalog import server_event

_NODE_FIELDS = {
    "user_id": "uuid",
    "name": "str",
    "roles": "list[str]",
    "lat": "float (WGS84 degrees)",
    "lng": "float (WGS84 degrees)",
    "distance_m": "float (m)",
    "precision_m": "float (m)",
    "location_updated_at": "ISO 8601 UTC",
    "online": "bool",
}


@server_event(
    "map:snapshot",
    fields={"count": "int", "results": "list[map node]"},
    groups=("socket",),
    durable=False,
    seed_names=("map_nodes",),
)
def map_snapshot(nodes: list[dict]) -> dict:
    """The map nodes of the subscribed circle, exactly as ``GET /api/map_nodes`` returns them."""
    return {"count": len(nodes), "results": nodes}


@server_event(
    "user:location",
    fields={
        "user_id": "uuid",
        "lat": "float (WGS84 degrees; grid cell centre for strangers)",
        "lng": "float (WGS84 degrees)",
        "precision_m": "float (m)",
        "timestamp": "ISO 8601 UTC (the publishing tick, not the fix) or null",
        "published_at": "float epoch s or null",
    },
    groups=("cell.<geohash>",),
    durable=False,
    seed_names=("location_update", "user_location"),
)
def user_location(user_id, lat: float, lng: float, precision_m: float, published_at: float | None) -> dict:
    """A visible user entered the circle or moved into another grid cell.

    ``timestamp`` and ``published_at`` are the tick that published the
    change (epoch s and ISO 8601 of the same instant), never the fix time;
    ``None`` when the change comes from a re-diff rather than a tick.
    """
    return {
        "user_id": str(user_id),
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "precision_m": float(precision_m),
        "timestamp": datetime.fromtimestamp(published_at, tz=UTC).isoformat() if published_at else None,
        "published_at": published_at,
    }


@server_event(
    "map:changes",
    fields={"locations": "list[user:location data]", "gone": "list[uuid]"},
    groups=("cell.<geohash>",),
    durable=False,
)
def map_changes(locations: list[dict], gone: list[str]) -> dict:
    """One tick's changes of a ``map:subscribe`` with ``batch: true``, in one frame.

    ``locations``: ``user:location`` payloads (newest per user); ``gone``:
    ids that ``user:gone`` would have named. ``geo.realtime`` writes the same
    shape from pre-encoded payloads.
    """
    return {"locations": locations, "gone": [str(uid) for uid in gone]}


@server_event("user:gone", fields={"user_id": "uuid"}, groups=("cell.<geohash>",), durable=False)
def user_gone(user_id) -> dict:
    """A user this socket was shown is no longer visible (stopped sharing, stale, left, blocked, ...)."""
    return {"user_id": str(user_id)}
