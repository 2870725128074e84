"""Server-to-client events of walks (one payload builder each, declared in the catalog).

Walk lifecycle events are durable and go to both walkers' ``user.<id>``
groups (every socket, no join needed; replayed after a reconnect);
``walk:location`` is not durable and goes to the walk room ``walk.<id>``,
which only the two walkers can join, while the walk is accepted or in
progress (docs/walks.md).
"""

from __future__ import annotations

from realtime.catalog import server_event

#: Fields of a walk as REST and every walk event return it.
WALK_FIELDS = {
    "id": "int",
    "initiator_id": "uuid",
    "partner_id": "uuid",
    "status": "requested | accepted | declined | in_progress | completed | cancelled | expired",
    "meeting_point": "{lat, lng} (WGS84 degrees) or null",
    "message": "str",
    "created_at": "ISO 8601 UTC",
    "accepted_at": "ISO 8601 UTC or null",
    "start_time": "ISO 8601 UTC or null",
    "end_time": "ISO 8601 UTC or null",
    "expires_at": "ISO 8601 UTC or null (when a requested/accepted/in-progress walk expires)",
    "distance_m": "float (metres, geodesic length of the track) or null until the walk ends",
    "duration_s": "float (seconds, end_time - start_time) or null",
}
_USER = ("user.<id>",)


def _iso(value):
    return value.isoformat() if value else None


def point_json(point) -> dict | None:
    """``{"lat", "lng"}`` of a geography point (degrees, 7 decimals), or ``None``."""
    if point is None:
        return None
    return {"lat": round(point.y, 7), "lng": round(point.x, 7)}


def walk_json(walk, *, detail: bool = False) -> dict:
    """The one shape of a walk (REST answers, acks and every walk event); see :data:`WALK_FIELDS`.

    With ``detail`` (``GET /api/walks/{id}``) it adds ``route`` (GeoJSON
    LineString ``{"type", "coordinates": [[lng, lat], ...]}`` or ``None``)
    and ``route_data`` (``{coordinates: [{lat, lng, timestamp}],
    points_of_interest: [{name, type, location: {lat, lng}}]}``).
    """
    from .selectors import walk_expires_at

    duration = None
    if walk.start_time and walk.end_time:
        duration = round((walk.end_time - walk.start_time).total_seconds(), 3)
    data = {
        "id": walk.pk,
        "initiator_id": str(walk.initiator_id),
        "partner_id": str(walk.partner_id),
        "status": walk.status,
        "meeting_point": point_json(walk.meeting_point),
        "message": walk.message,
        "created_at": _iso(walk.created_at),
        "accepted_at": _iso(walk.accepted_at),
        "start_time": _iso(walk.start_time),
        "end_time": _iso(walk.end_time),
        "expires_at": _iso(walk_expires_at(walk)),
        "distance_m": None if walk.distance_m is None else round(walk.distance_m, 1),
        "duration_s": duration,
    }
    if detail:
        data["route"] = (
            {"type": "LineString", "coordinates": [[round(x, 7), round(y, 7)] for x, y in walk.route.coords]}
            if walk.route is not None
            else None
        )
        data["route_data"] = walk.route_data
    return data


@server_event("walk:requested", fields=WALK_FIELDS, groups=_USER, durable=True, seed_names=("walk:requested",))
def walk_requested(walk) -> dict:
    """A walk was requested (to both walkers: the partner answers it, the initiator's other devices see it)."""
    return walk_json(walk)


@server_event("walk:accepted", fields=WALK_FIELDS, groups=_USER, durable=True, seed_names=("walk:accepted",))
def walk_accepted(walk) -> dict:
    """The partner accepted: join ``walk.<id>`` to see each other's exact position."""
    return walk_json(walk)


@server_event("walk:declined", fields=WALK_FIELDS, groups=_USER, durable=True, seed_names=("walk:declined",))
def walk_declined(walk) -> dict:
    """The partner declined the request."""
    return walk_json(walk)


@server_event("walk:started", fields=WALK_FIELDS, groups=_USER, durable=True)
def walk_started(walk) -> dict:
    """A walker started the walk (``start_time`` set; the track is recorded from now)."""
    return walk_json(walk)


@server_event("walk:ended", fields=WALK_FIELDS, groups=_USER, durable=True)
def walk_ended(walk) -> dict:
    """The walk is over: ``status`` ``completed`` (ended), ``cancelled`` (or blocked) or ``expired``.

    The exact-position share stops at the same commit; both walkers' sockets
    leave ``walk.<id>`` (``room:left``).
    """
    return walk_json(walk)


@server_event(
    "walk:location",
    fields={
        "walk_id": "int",
        "user_id": "uuid",
        "lat": "float (WGS84 degrees, exact)",
        "lng": "float (WGS84 degrees, exact)",
        "accuracy_m": "float (metres) or null",
        "speed_mps": "float (m/s) or null",
        "heading_deg": "float (degrees) or null",
        "recorded_at": "ISO 8601 UTC (client time of the fix)",
    },
    groups=("walk.<id>",),
    durable=False,
)
def walk_location(*, walk_id, user_id, lat, lng, recorded_at, accuracy_m=None, speed_mps=None, heading_deg=None):
    """A walker's exact fix, sent for every stored fix while the walk is accepted or in progress."""
    return {
        "walk_id": walk_id,
        "user_id": str(user_id),
        "lat": lat,
        "lng": lng,
        "accuracy_m": accuracy_m,
        "speed_mps": speed_mps,
        "heading_deg": heading_deg,
        "recorded_at": _iso(recorded_at),
    }
