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


# --- meet-now and meetups ------------------------------------------------------------------------

#: Fields of a meet-now request as REST and the ``meet:*`` events return it.
MEET_FIELDS = {
    "id": "int",
    "from_user_id": "uuid",
    "from_user_name": "str (full name or username of the requester)",
    "to_user_id": "uuid",
    "message": "str",
    "status": "pending | accepted | declined | cancelled | expired",
    "created_at": "ISO 8601 UTC",
    "responded_at": "ISO 8601 UTC or null",
    "expires_at": "ISO 8601 UTC",
    "meetup_id": "int or null (set when accepted)",
}


def meet_json(item, *, now=None) -> dict:
    """The one shape of a meet-now request; a ``pending`` one past ``expires_at`` reads ``expired`` (before the sweep).

    Needs ``from_user`` loaded (``select_related``) for ``from_user_name``.
    """
    from django.utils import timezone

    status = item.status
    if status == "pending" and item.expires_at <= (now or timezone.now()):
        status = "expired"
    user = item.from_user
    return {
        "id": item.pk,
        "from_user_id": str(item.from_user_id),
        "from_user_name": user.full_name or user.username,
        "to_user_id": str(item.to_user_id),
        "message": item.message,
        "status": status,
        "created_at": _iso(item.created_at),
        "responded_at": _iso(item.responded_at),
        "expires_at": _iso(item.expires_at),
        "meetup_id": item.meetup_id,
    }


@server_event("meet:request", fields=MEET_FIELDS, groups=_USER, durable=True, seed_names=("meet_request",))
def meet_request(item) -> dict:
    """A meet-now request to you (the target's ``user.<id>``); re-sent on connect for every one still pending."""
    return meet_json(item)


@server_event("meet:updated", fields=MEET_FIELDS, groups=_USER, durable=True)
def meet_updated(item) -> dict:
    """A meet-now request was accepted (``meetup_id`` set), declined, cancelled or expired (to both people)."""
    return meet_json(item)


#: Fields of a meetup as REST and ``meetup:changed`` return it.
MEETUP_FIELDS = {
    "id": "int",
    "organizer_id": "uuid",
    "participant_ids": "[uuid] (current participants; who left is not listed)",
    "participants": "[{user_id, status, status_at, left_at}] (every participant, status on_my_way | arrived | ...)",
    "location": "{lat, lng} (WGS84 degrees) or null",
    "time": "ISO 8601 UTC",
    "status": "planned | active | ended | cancelled",
    "created_at": "ISO 8601 UTC",
    "ended_at": "ISO 8601 UTC or null",
    "exact_until": "ISO 8601 UTC (time + MEETUP_EXACT_TTL_S: exact sharing stops then at the latest)",
    "conversation_id": "int or null (the meetup's chat, messaging)",
}


def meetup_json(meetup, *, conversation_id=None) -> dict:
    """The one shape of a meetup (REST, ``meetup:changed``); participants come from ``meetup.participants.all()``."""
    from datetime import timedelta

    from django.conf import settings

    parts = list(meetup.participants.all())
    return {
        "id": meetup.pk,
        "organizer_id": str(meetup.organizer_id),
        "participant_ids": [str(p.user_id) for p in parts if p.left_at is None],
        "participants": [
            {"user_id": str(p.user_id), "status": p.status, "status_at": _iso(p.status_at), "left_at": _iso(p.left_at)}
            for p in parts
        ],
        "location": point_json(meetup.location),
        "time": _iso(meetup.time),
        "status": meetup.status,
        "created_at": _iso(meetup.created_at),
        "ended_at": _iso(meetup.ended_at),
        "exact_until": _iso(meetup.time + timedelta(seconds=settings.MEETUP_EXACT_TTL_S)),
        "conversation_id": conversation_id,
    }


@server_event("meetup:changed", fields=MEETUP_FIELDS, groups=_USER, durable=True)
def meetup_changed(meetup, *, conversation_id=None) -> dict:
    """A meetup of yours was created (meet-now accepted), ended, cancelled or a participant left.

    To every participant's ``user.<id>`` (who just left included). After a
    creation, join ``meetup.<id>``; when it ends or is cancelled the sockets
    leave it (``room:left``).
    """
    return meetup_json(meetup, conversation_id=conversation_id)


@server_event(
    "meetup:update",
    fields={
        "meetup_id": "int",
        "user_id": "uuid",
        "type": "position | status",
        "status": "on_my_way | arrived | running_late | cant_make_it (type status) or null",
        "lat": "float (WGS84 degrees, exact; type position) or null",
        "lng": "float (WGS84 degrees, exact; type position) or null",
        "accuracy_m": "float (metres) or null",
        "recorded_at": "ISO 8601 UTC (the fix's client time, or when the status was set)",
    },
    groups=("meetup.<id>",),
    durable=False,
    seed_names=("meetup_update",),
)
def meetup_update(*, meetup_id, user_id, type, recorded_at, status=None, lat=None, lng=None, accuracy_m=None):
    """A participant's exact fix (every stored fix while the meetup is active and within its exact window) or status."""
    return {
        "meetup_id": meetup_id,
        "user_id": str(user_id),
        "type": type,
        "status": status,
        "lat": lat,
        "lng": lng,
        "accuracy_m": accuracy_m,
        "recorded_at": _iso(recorded_at),
    }


# --- introductions --------------------------------------------------------------------------------

INTRODUCTION_FIELDS = {
    "id": "int",
    "from_user_id": "uuid (the requester)",
    "from_user_name": "str",
    "via_user_id": "uuid (the contact asked to introduce)",
    "via_user_name": "str",
    "to_user_id": "uuid (the target)",
    "to_user_name": "str",
    "message": "str (the requester's)",
    "status": "pending | forwarded | accepted | declined | cancelled",
    "declined_by": "via | target | empty",
    "created_at": "ISO 8601 UTC",
    "forwarded_at": "ISO 8601 UTC or null",
    "responded_at": "ISO 8601 UTC or null",
    "conversation_id": "int or null (the requester-target direct conversation once accepted; null for the via user)",
}


def introduction_json(item, *, viewer_id) -> dict:
    """The one shape of an introduction for ``viewer_id`` (needs the three users loaded). No position, ever."""
    is_pair = str(viewer_id) in (str(item.from_user_id), str(item.to_user_id))
    return {
        "id": item.pk,
        "from_user_id": str(item.from_user_id),
        "from_user_name": item.from_user.full_name or item.from_user.username,
        "via_user_id": str(item.via_user_id),
        "via_user_name": item.via_user.full_name or item.via_user.username,
        "to_user_id": str(item.to_user_id),
        "to_user_name": item.to_user.full_name or item.to_user.username,
        "message": item.message,
        "status": item.status,
        "declined_by": item.declined_by,
        "created_at": _iso(item.created_at),
        "forwarded_at": _iso(item.forwarded_at),
        "responded_at": _iso(item.responded_at),
        "conversation_id": item.conversation_id if is_pair else None,
    }


@server_event(
    "introduction:request",
    fields=INTRODUCTION_FIELDS,
    groups=_USER,
    durable=True,
    seed_names=("introduction_request",),
)
def introduction_request(item, *, viewer_id) -> dict:
    """An introduction asks something of you: to the via user when created, to the target when forwarded."""
    return introduction_json(item, viewer_id=viewer_id)


@server_event("introduction:updated", fields=INTRODUCTION_FIELDS, groups=_USER, durable=True)
def introduction_updated(item, *, viewer_id) -> dict:
    """An introduction changed (created, forwarded, accepted, declined, cancelled by a block).

    To the requester and the via user always, to the target once it was
    forwarded to them.
    """
    return introduction_json(item, viewer_id=viewer_id)


# --- proximity alerts -----------------------------------------------------------------------------

PROXIMITY_FIELDS = {
    "id": "int",
    "from_user_id": "uuid (who asked)",
    "to_user_id": "uuid (who must consent)",
    "distance_m": "int (metres, 100..5000)",
    "status": "pending | active | revoked",
    "near": "bool (the last state sent; false until the first proximity:near)",
    "created_at": "ISO 8601 UTC",
    "accepted_at": "ISO 8601 UTC or null",
    "revoked_at": "ISO 8601 UTC or null",
}


def proximity_json(alert) -> dict:
    """The one shape of a proximity alert (REST and ``proximity:updated``). Never a position or a distance."""
    return {
        "id": alert.pk,
        "from_user_id": str(alert.from_user_id),
        "to_user_id": str(alert.to_user_id),
        "distance_m": alert.distance_m,
        "status": alert.status,
        "near": alert.near,
        "created_at": _iso(alert.created_at),
        "accepted_at": _iso(alert.accepted_at),
        "revoked_at": _iso(alert.revoked_at),
    }


@server_event("proximity:updated", fields=PROXIMITY_FIELDS, groups=_USER, durable=True)
def proximity_updated(alert) -> dict:
    """A proximity alert was asked for (consent it with accept), accepted or revoked (by either, or a block)."""
    return proximity_json(alert)


_CROSSING = {
    "alert_id": "int",
    "user_id": "uuid (the other person)",
    "distance_m": "int (the alert's distance, metres)",
    "band": 'str ("within <distance_m> m" / "beyond <distance_m> m"): never a position or exact distance',
    "at": "ISO 8601 UTC (server time of the crossing)",
}


def _crossing(alert_id, other_id, distance_m, band, at) -> dict:
    return {"alert_id": alert_id, "user_id": str(other_id), "distance_m": distance_m, "band": band, "at": _iso(at)}


@server_event("proximity:near", fields=_CROSSING, groups=_USER, durable=True)
def proximity_near(*, alert_id, other_id, distance_m, at) -> dict:
    """You and ``user_id`` came within ``distance_m`` of each other (an active alert; both receive it)."""
    return _crossing(alert_id, other_id, distance_m, f"within {distance_m} m", at)


@server_event("proximity:far", fields=_CROSSING, groups=_USER, durable=True)
def proximity_far(*, alert_id, other_id, distance_m, at) -> dict:
    """You and ``user_id`` moved apart beyond ``distance_m`` times ``PROXIMITY_HYSTERESIS`` (after a near)."""
    return _crossing(alert_id, other_id, distance_m, f"beyond {distance_m} m", at)
