"""Every write of walks: one function per use case, called by views, socket handlers, tasks and signals alike.

State machine (docs/walks.md)::

    requested --accept (partner)--> accepted --start (either)--> in_progress --end (either)--> completed
    requested --decline (partner)--> declined
    requested --cancel (initiator) / accepted, in_progress --cancel (either)--> cancelled
    requested (WALK_REQUEST_TTL_S), accepted / in_progress (WALK_ACTIVE_TTL_S) --sweep--> expired
    any live state --block either way--> cancelled

A third user gets 404 ``not_found`` for every action (the walk's existence
is not revealed); a walker acting out of turn 403 ``not_your_turn``; a
transition from the wrong state 409 ``invalid_transition``. Events are
published and notifications sent after the transaction commits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.gis.geos import LineString, Point
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from realtime.publish import publish, user_group
from realtime.rooms import room_close

from . import events
from .models import WALK_LIVE_STATES, Walk, WalkAvailability, WalkPoint, WalkStatus
from .selectors import user_visible_to, walk_get_for, walks_live_for

logger = logging.getLogger(__name__)

ROOM = "walk"


def _not_available() -> NotFound:
    """The one refusal for a blocked, invisible, inactive or unknown partner (nothing says which)."""
    return NotFound("This user is not available for a walk.", code="not_available")


def _publish_both(walk: Walk, event: str, data: dict) -> None:
    for user_id in (walk.initiator_id, walk.partner_id):
        publish(user_group(user_id), event, data)


def _notify(user_id, walk: Walk, content: str, action: str) -> None:
    from notifications.services import notification_send

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    notification_send(
        user=user,
        type="walk_request",
        content=content,
        related_kind="walk",
        related_id=walk.pk,
        data={"walk_id": walk.pk, "action": action, "status": walk.status},
    )


def _name(user: User) -> str:
    return user.full_name or user.username


def walk_request(*, user: User, partner_id, meeting_point: dict | None = None, message: str = "") -> Walk:
    """``user`` asks ``partner_id`` for a walk; returns the new ``requested`` walk.

    ``meeting_point``: optional ``{"lat", "lng"}`` (WGS84 degrees, validated
    by the caller); ``message``: up to 500 characters. Sends
    ``walk:requested`` to both walkers and a ``walk_request`` notification
    (with push) to the partner. Raises ``InvalidInput`` (400) for a request
    to oneself, ``RateLimited`` (429) past ``WALK_REQUEST_RATE``,
    ``NotFound`` (404 ``not_available``) when the partner is unknown,
    inactive, in a block with ``user`` either way or not visible to ``user``
    on the map (one answer for all), ``Conflict`` (409 ``request_pending``)
    when a request between the two is already pending (either direction;
    the partial unique index decides races).
    """
    if str(partner_id) == str(user.pk):
        raise InvalidInput("You cannot walk with yourself.", fields={"partner_id": ["Not yourself."]})
    rate_limit_hit("walk_request", str(user.pk), settings.WALK_REQUEST_RATE)
    partner = User.objects.filter(pk=partner_id, is_active=True).first()
    if partner is None or not user_visible_to(user, partner.pk):
        raise _not_available()
    point = None
    if meeting_point is not None:
        point = Point(meeting_point["lng"], meeting_point["lat"], srid=4326)
    try:
        with transaction.atomic():
            walk = Walk.objects.create(initiator=user, partner=partner, meeting_point=point, message=message)
            _publish_both(walk, "walk:requested", events.walk_requested(walk))
            _notify(
                partner.pk,
                walk,
                f"{_name(user)} asks you for a walk" + (f": {message}" if message else "."),
                "requested",
            )
    except IntegrityError:
        raise Conflict("A walk request between you two is already pending.", code="request_pending") from None
    return walk


def _locked(user: User, walk_id) -> Walk:
    """Lock the walk row for a transition (inside ``transaction.atomic``); 404 for a non-walker."""
    walk = walk_get_for(user, walk_id)
    return Walk.objects.select_for_update().get(pk=walk.pk)


def _invalid(walk: Walk, action: str) -> Conflict:
    return Conflict(
        f"A {walk.status} walk cannot be {action}.",
        code="invalid_transition",
        fields={"status": [walk.status]},
    )


def _check_not_expired(walk: Walk, now: datetime) -> None:
    from .selectors import walk_expires_at

    expires = walk_expires_at(walk)
    if expires is not None and expires <= now:
        raise Conflict("This walk has expired.", code="invalid_transition", fields={"status": ["expired"]})


def walk_accept(*, user: User, walk_id) -> Walk:
    """The partner accepts a ``requested`` walk: ``accepted``, exact sharing starts, ``walk:accepted``.

    Raises ``NotFound`` (404) for a non-walker, ``Forbidden`` (403
    ``not_your_turn``) for the initiator, ``Conflict`` (409
    ``invalid_transition``) from any other state or after expiry.
    Notifies the initiator.
    """
    now = timezone.now()
    with transaction.atomic():
        walk = _locked(user, walk_id)
        if str(walk.partner_id) != str(user.pk):
            raise Forbidden("Only the partner can accept a walk request.", code="not_your_turn")
        if walk.status != WalkStatus.REQUESTED:
            raise _invalid(walk, "accepted")
        _check_not_expired(walk, now)
        walk.status, walk.accepted_at = WalkStatus.ACCEPTED, now
        walk.save(update_fields=["status", "accepted_at", "updated_at"])
        _publish_both(walk, "walk:accepted", events.walk_accepted(walk))
        _notify(walk.initiator_id, walk, f"{_name(user)} accepted your walk request.", "accepted")
    return walk


def walk_decline(*, user: User, walk_id) -> Walk:
    """The partner declines a ``requested`` walk: ``declined``, ``walk:declined``, the initiator is notified.

    Errors as :func:`walk_accept`.
    """
    with transaction.atomic():
        walk = _locked(user, walk_id)
        if str(walk.partner_id) != str(user.pk):
            raise Forbidden("Only the partner can decline a walk request.", code="not_your_turn")
        if walk.status != WalkStatus.REQUESTED:
            raise _invalid(walk, "declined")
        walk.status, walk.end_time = WalkStatus.DECLINED, timezone.now()
        walk.save(update_fields=["status", "end_time", "updated_at"])
        _publish_both(walk, "walk:declined", events.walk_declined(walk))
        _notify(walk.initiator_id, walk, f"{_name(user)} declined your walk request.", "declined")
    return walk


def walk_start(*, user: User, walk_id) -> Walk:
    """Either walker starts an ``accepted`` walk: ``in_progress``, ``start_time`` = now, the track is recorded.

    Raises ``NotFound`` (404) for a non-walker, ``Conflict`` (409
    ``invalid_transition``) from any other state or after expiry.
    """
    now = timezone.now()
    with transaction.atomic():
        walk = _locked(user, walk_id)
        if walk.status != WalkStatus.ACCEPTED:
            raise _invalid(walk, "started")
        _check_not_expired(walk, now)
        walk.status, walk.start_time = WalkStatus.IN_PROGRESS, now
        walk.save(update_fields=["status", "start_time", "updated_at"])
        _publish_both(walk, "walk:started", events.walk_started(walk))
    return walk


def _finish(walk: Walk, status: str, *, reason: str, now: datetime) -> None:
    """Move a locked walk to a final ``status``: record the route, publish ``walk:ended``, close the room."""
    walk.status = status
    walk.end_time = now
    if walk.start_time is not None:
        _route_finalize(walk)
    elif walk.distance_m is None and status == WalkStatus.COMPLETED:
        walk.distance_m = 0.0
    walk.save(update_fields=["status", "end_time", "route", "route_data", "distance_m", "updated_at"])
    _publish_both(walk, "walk:ended", events.walk_ended(walk))
    room_close(ROOM, walk.pk, [walk.initiator_id, walk.partner_id], reason=reason)


def walk_end(*, user: User, walk_id) -> Walk:
    """Either walker ends an ``in_progress`` walk: ``completed``, the track becomes ``route``/``distance_m``.

    Exact sharing stops at this commit (the provider no longer returns the
    pair; both sockets leave ``walk.<id>`` with ``room:left`` reason
    ``ended``). Notifies the other walker. Raises ``NotFound`` (404) for a
    non-walker, ``Conflict`` (409 ``invalid_transition``) from any other state.
    """
    with transaction.atomic():
        walk = _locked(user, walk_id)
        if walk.status != WalkStatus.IN_PROGRESS:
            raise _invalid(walk, "ended")
        _finish(walk, WalkStatus.COMPLETED, reason="ended", now=timezone.now())
        km = (walk.distance_m or 0) / 1000
        _notify(walk.other_id(user.pk), walk, f"{_name(user)} ended your walk ({km:.2f} km).", "ended")
    return walk


def walk_cancel(*, user: User, walk_id) -> Walk:
    """Cancel a walk: the initiator a ``requested`` one, either walker an ``accepted`` or ``in_progress`` one.

    ``cancelled``; the track so far is kept; ``walk:ended``; the other
    walker is notified. Raises ``NotFound`` (404) for a non-walker,
    ``Forbidden`` (403 ``not_your_turn``) for the partner of a ``requested``
    walk (decline it instead), ``Conflict`` (409 ``invalid_transition``)
    from a final state.
    """
    with transaction.atomic():
        walk = _locked(user, walk_id)
        if walk.status == WalkStatus.REQUESTED and str(walk.initiator_id) != str(user.pk):
            raise Forbidden("Decline the request instead.", code="not_your_turn")
        if walk.status not in (WalkStatus.REQUESTED, *WALK_LIVE_STATES):
            raise _invalid(walk, "cancelled")
        _finish(walk, WalkStatus.CANCELLED, reason="cancelled", now=timezone.now())
        _notify(walk.other_id(user.pk), walk, f"{_name(user)} cancelled the walk.", "cancelled")
    return walk


def walk_expire_due(*, now: datetime | None = None) -> int:
    """Expire every walk past its time (the Celery beat sweep); returns how many.

    ``requested`` after ``WALK_REQUEST_TTL_S``, ``accepted`` after
    ``WALK_ACTIVE_TTL_S`` from acceptance, ``in_progress`` after
    ``WALK_ACTIVE_TTL_S`` from ``start_time``. Each walk in its own
    transaction (``skip_locked``: a walk being ended concurrently is left to
    that transition). The exact share already stopped at the expiry instant
    (the provider checks the time); this records the route and sends
    ``walk:ended`` with ``status`` ``expired``.
    """
    now = now or timezone.now()
    request_cutoff = now - timedelta(seconds=settings.WALK_REQUEST_TTL_S)
    live_cutoff = now - timedelta(seconds=settings.WALK_ACTIVE_TTL_S)
    due = (
        Q(status=WalkStatus.REQUESTED, created_at__lte=request_cutoff)
        | Q(status=WalkStatus.ACCEPTED, accepted_at__lte=live_cutoff)
        | Q(status=WalkStatus.IN_PROGRESS, start_time__lte=live_cutoff)
    )
    count = 0
    for pk in Walk.objects.filter(due).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            walk = Walk.objects.select_for_update(skip_locked=True).filter(due, pk=pk).first()
            if walk is None:
                continue
            _finish(walk, WalkStatus.EXPIRED, reason="expired", now=now)
            count += 1
    return count


def walks_cancel_for_block(*, blocker_id, blocked_id) -> int:
    """A block was made: cancel every pending or live walk between the pair (``room:left`` reason ``blocked``).

    No notification (a block is not announced). Returns how many walks ended.
    """
    pair = Q(initiator_id=blocker_id, partner_id=blocked_id) | Q(initiator_id=blocked_id, partner_id=blocker_id)
    count = 0
    with transaction.atomic():
        for walk in Walk.objects.select_for_update().filter(pair, status__in=(WalkStatus.REQUESTED, *WALK_LIVE_STATES)):
            _finish(walk, WalkStatus.CANCELLED, reason="blocked", now=timezone.now())
            count += 1
    return count


# --- fixes: walk:location and the track -------------------------------------------------------


def walk_fix_stored(
    *, user_id, lat: float, lng: float, recorded_at: datetime, accuracy_m=None, speed_mps=None, heading_deg=None
) -> int:
    """Receiver of ``core.signals.fix_stored``: stream the fix to each live walk's room and record the track.

    For every walk of ``user_id`` that is accepted or in progress and not
    expired: publish ``walk:location`` (exact) to ``walk.<id>``; when in
    progress, store a :class:`WalkPoint` (at most ``WALK_TRACK_MAX_POINTS``
    per walk). One indexed query when the user has no live walk. Returns
    the number of walks the fix went to.
    """
    walks = list(walks_live_for(user_id).only("pk", "status"))
    if not walks:
        return 0
    point = Point(float(lng), float(lat), srid=4326)
    for walk in walks:
        publish(
            f"{ROOM}.{walk.pk}",
            "walk:location",
            events.walk_location(
                walk_id=walk.pk,
                user_id=user_id,
                lat=lat,
                lng=lng,
                recorded_at=recorded_at,
                accuracy_m=accuracy_m,
                speed_mps=speed_mps,
                heading_deg=heading_deg,
            ),
        )
        if walk.status == WalkStatus.IN_PROGRESS:
            if WalkPoint.objects.filter(walk_id=walk.pk).count() < settings.WALK_TRACK_MAX_POINTS:
                WalkPoint.objects.create(walk_id=walk.pk, user_id=user_id, location=point, recorded_at=recorded_at)
    return len(walks)


def _route_finalize(walk: Walk) -> None:
    """Set ``route``, ``route_data`` and ``distance_m`` from the recorded points (no save).

    The track is the points of the walker who sent more of them during the
    walk (ties: the initiator): both walk together, so one device's track
    is the walk; mixing two devices' fixes would zig-zag between them and
    inflate the distance. ``distance_m`` is PostGIS ``ST_Length`` of the
    geography LineString (spheroid, metres).
    """
    counts = {
        row["user_id"]: row["n"]
        for row in WalkPoint.objects.filter(walk_id=walk.pk).values("user_id").annotate(n=models_count())
    }
    if not counts:
        walk.route, walk.distance_m = None, 0.0
        walk.route_data = {"coordinates": [], "points_of_interest": []}
        return
    best = max(counts.items(), key=lambda kv: (kv[1], str(kv[0]) == str(walk.initiator_id)))[0]
    points = list(WalkPoint.objects.filter(walk_id=walk.pk, user_id=best).order_by("recorded_at", "id"))
    coordinates = [
        {"lat": round(p.location.y, 7), "lng": round(p.location.x, 7), "timestamp": p.recorded_at.isoformat()}
        for p in points
    ]
    if len(points) < 2:
        walk.route, walk.distance_m = None, 0.0
        walk.route_data = {"coordinates": coordinates, "points_of_interest": []}
        return
    walk.route = LineString([(p.location.x, p.location.y) for p in points], srid=4326)
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_Length(ST_GeomFromEWKT(%s)::geography)", [walk.route.ewkt])
        walk.distance_m = float(cursor.fetchone()[0])
    walk.route_data = {"coordinates": coordinates, "points_of_interest": _route_pois(walk.route)}


def models_count():
    """``Count("id")`` (a function so the import stays local)."""
    from django.db.models import Count

    return Count("id")


def _route_pois(route) -> list[dict]:
    """Places within ``WALK_ROUTE_POI_RADIUS_M`` of the track, nearest first: ``[{name, type, location}]``."""
    from django.contrib.gis.db.models.functions import Distance
    from django.contrib.gis.measure import D

    from places.models import Place

    qs = (
        Place.objects.filter(location__dwithin=(route, D(m=settings.WALK_ROUTE_POI_RADIUS_M)))
        .annotate(distance=Distance("location", route))
        .order_by("distance", "id")[: settings.WALK_ROUTE_POI_MAX]
    )
    return [
        {"name": p.name, "type": p.category, "location": {"lat": round(p.location.y, 7), "lng": round(p.location.x, 7)}}
        for p in qs
    ]


# --- availability ------------------------------------------------------------------------------


def walk_available_set(*, user: User, available: bool) -> bool:
    """Mark ``user`` available (or not) for a walk (seed 001 ``status: "available"``); returns the value."""
    WalkAvailability.objects.update_or_create(user_id=user.pk, defaults={"available": bool(available)})
    return bool(available)
