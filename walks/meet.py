"""Meet-now requests and meetups (seed 000): reads and writes, called by views, socket handlers, tasks, signals.

Meet-now state machine (docs/walks.md, "Meet-now")::

    pending --accept (target)--> accepted (a Meetup is created, active at once)
    pending --decline (target)--> declined
    pending --cancel (requester)--> cancelled
    pending --MEET_NOW_TTL_S (sweep; read as expired before it)--> expired
    pending --block either way--> cancelled

Meetup::

    planned / active --end (any participant)--> ended
    planned / active --cancel (organizer)--> cancelled
    planned / active --leave (the last participant)--> ended
    planned / active --block between two participants--> cancelled
    active --sweep, MEETUP_EXACT_TTL_S after time--> ended

A third user gets 404 ``not_found`` for every action; acting out of turn is
403 ``not_your_turn``; a transition from the wrong state 409
``invalid_transition``. Events and notifications go out after commit.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from realtime.publish import publish, user_group
from realtime.rooms import room_close, room_evict

from . import events
from .models import MEETUP_LIVE_STATES, MeetNowRequest, MeetNowStatus, Meetup, MeetupParticipant, MeetupStatus
from .selectors import user_visible_to

ROOM = "meetup"
OWNER_KIND = "meetup"
#: Statuses a participant may announce with ``meetup:update``.
PARTICIPANT_STATUSES = ("on_my_way", "arrived", "running_late", "cant_make_it")


def _not_available() -> NotFound:
    return NotFound("This user is not available to meet.", code="not_available")


def _name(user) -> str:
    return user.full_name or user.username


def _pk(value, what: str) -> int:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        raise NotFound(f"No such {what}.") from None
    if not 0 < pk < 2**63:
        raise NotFound(f"No such {what}.")
    return pk


def _notify(user_id, type_: str, content: str, related_kind: str, related_id, data: dict) -> None:
    from notifications.services import notification_send

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        notification_send(
            user=user, type=type_, content=content, related_kind=related_kind, related_id=related_id, data=data
        )


# --- meet-now: reads ------------------------------------------------------------------------------


def meet_get_for(user, meet_id) -> MeetNowRequest:
    """The request ``meet_id`` if ``user`` sent or received it; 404 ``not_found`` otherwise (ids cannot be probed)."""
    pk = _pk(meet_id, "meet-now request")
    item = (
        MeetNowRequest.objects.select_related("from_user")
        .filter(pk=pk)
        .filter(Q(from_user_id=user.pk) | Q(to_user_id=user.pk))
        .first()
    )
    if item is None:
        raise NotFound("No such meet-now request.")
    return item


def meet_list(user, direction: str | None = None) -> QuerySet[MeetNowRequest]:
    """``user``'s requests, newest first: ``incoming`` (to them), ``outgoing`` (from them) or both."""
    qs = MeetNowRequest.objects.select_related("from_user")
    if direction == "incoming":
        return qs.filter(to_user_id=user.pk)
    if direction == "outgoing":
        return qs.filter(from_user_id=user.pk)
    return qs.filter(Q(from_user_id=user.pk) | Q(to_user_id=user.pk))


def meet_pending_for_target(user_id, now: datetime | None = None) -> list[dict]:
    """The ``meet:request`` payloads of every request still pending to ``user_id`` (oldest first; one query)."""
    now = now or timezone.now()
    rows = (
        MeetNowRequest.objects.select_related("from_user")
        .filter(to_user_id=user_id, status=MeetNowStatus.PENDING, expires_at__gt=now)
        .order_by("created_at", "id")[:100]
    )
    return [events.meet_json(item, now=now) for item in rows]


# --- meet-now: writes -----------------------------------------------------------------------------


def _expire_pair(a_id, b_id, now: datetime) -> None:
    """Expire the pair's pending request if past ``expires_at`` (frees the one-pending index before the sweep)."""
    pair = Q(from_user_id=a_id, to_user_id=b_id) | Q(from_user_id=b_id, to_user_id=a_id)
    for pk in MeetNowRequest.objects.filter(pair, status=MeetNowStatus.PENDING, expires_at__lte=now).values_list(
        "pk", flat=True
    ):
        _expire_one(pk, now)


def meet_now_create(*, user: User, target_user_id, message: str = "") -> MeetNowRequest:
    """``user`` asks ``target_user_id`` to meet now; returns the ``pending`` request.

    Sends ``meet:request`` to the target and a ``meet_request`` notification.
    Raises ``InvalidInput`` (400) for oneself, ``RateLimited`` (429) past
    ``MEET_NOW_RATE``, ``NotFound`` (404 ``not_available``) for an unknown,
    inactive, blocked (either way) or invisible target (one answer),
    ``Conflict`` (409 ``request_pending``) while a request between the two
    is pending (either direction; the partial unique index decides races).
    """
    if str(target_user_id) == str(user.pk):
        raise InvalidInput("You cannot meet yourself.", fields={"target_user_id": ["Not yourself."]})
    rate_limit_hit("meet_now", str(user.pk), settings.MEET_NOW_RATE)
    target = User.objects.filter(pk=target_user_id, is_active=True).first()
    if target is None or not user_visible_to(user, target.pk):
        raise _not_available()
    now = timezone.now()
    _expire_pair(user.pk, target.pk, now)
    try:
        with transaction.atomic():
            item = MeetNowRequest.objects.create(
                from_user=user,
                to_user=target,
                message=message,
                expires_at=now + timedelta(seconds=settings.MEET_NOW_TTL_S),
            )
            item.from_user = user
            publish(user_group(target.pk), "meet:request", events.meet_request(item))
            _notify(
                target.pk,
                "meet_request",
                f"{_name(user)} wants to meet now" + (f": {message}" if message else "."),
                "meet_now",
                item.pk,
                {"meet_now_id": item.pk, "action": "requested"},
            )
    except IntegrityError:
        raise Conflict("A meet-now request between you two is already pending.", code="request_pending") from None
    return item


def _locked(user, meet_id) -> MeetNowRequest:
    item = meet_get_for(user, meet_id)
    locked = MeetNowRequest.objects.select_for_update().get(pk=item.pk)
    locked.from_user = item.from_user
    return locked


def _invalid(status: str, action: str) -> Conflict:
    return Conflict(f"A {status} request cannot be {action}.", code="invalid_transition", fields={"status": [status]})


def _check_pending(item: MeetNowRequest, action: str, now: datetime) -> None:
    if item.status != MeetNowStatus.PENDING:
        raise _invalid(item.status, action)
    if item.expires_at <= now:
        raise _invalid("expired", action)


def _answer(item: MeetNowRequest, status: str, now: datetime) -> None:
    item.status, item.responded_at = status, now
    item.save(update_fields=["status", "responded_at", "meetup", "updated_at"])
    data = events.meet_updated(item)
    for uid in (item.from_user_id, item.to_user_id):
        publish(user_group(uid), "meet:updated", data)


def meet_now_accept(*, user: User, meet_id) -> MeetNowRequest:
    """The target accepts: ``accepted``, a :class:`Meetup` is created (see :func:`meetup_create_from_meet`).

    Notifies the requester. Raises 404 for a third user, 403 ``not_your_turn``
    for the requester, 409 ``invalid_transition`` when not pending or expired.
    """
    now = timezone.now()
    with transaction.atomic():
        item = _locked(user, meet_id)
        if str(item.to_user_id) != str(user.pk):
            raise Forbidden("Only the person asked can accept.", code="not_your_turn")
        _check_pending(item, "accepted", now)
        meetup = meetup_create_from_meet(item, now=now)
        item.meetup = meetup
        _answer(item, MeetNowStatus.ACCEPTED, now)
        _notify(
            item.from_user_id,
            "meet_request",
            f"{_name(user)} accepted to meet now.",
            "meetup",
            meetup.pk,
            {"meet_now_id": item.pk, "meetup_id": meetup.pk, "action": "accepted"},
        )
    return item


def meet_now_decline(*, user: User, meet_id) -> MeetNowRequest:
    """The target declines: ``declined``; the requester is notified. Errors as :func:`meet_now_accept`."""
    now = timezone.now()
    with transaction.atomic():
        item = _locked(user, meet_id)
        if str(item.to_user_id) != str(user.pk):
            raise Forbidden("Only the person asked can decline.", code="not_your_turn")
        _check_pending(item, "declined", now)
        _answer(item, MeetNowStatus.DECLINED, now)
        _notify(
            item.from_user_id,
            "meet_request",
            f"{_name(user)} cannot meet now.",
            "meet_now",
            item.pk,
            {"meet_now_id": item.pk, "action": "declined"},
        )
    return item


def meet_now_cancel(*, user: User, meet_id) -> MeetNowRequest:
    """The requester withdraws a pending request: ``cancelled`` (no notification; ``meet:updated`` to both).

    Raises 404 for a third user, 403 ``not_your_turn`` for the target
    (decline instead), 409 ``invalid_transition`` when not pending or expired.
    """
    now = timezone.now()
    with transaction.atomic():
        item = _locked(user, meet_id)
        if str(item.from_user_id) != str(user.pk):
            raise Forbidden("Decline the request instead.", code="not_your_turn")
        _check_pending(item, "cancelled", now)
        _answer(item, MeetNowStatus.CANCELLED, now)
    return item


def _expire_one(pk, now: datetime) -> bool:
    with transaction.atomic():
        item = (
            MeetNowRequest.objects.select_for_update(skip_locked=True)
            .select_related("from_user")
            .filter(pk=pk, status=MeetNowStatus.PENDING, expires_at__lte=now)
            .first()
        )
        if item is None:
            return False
        item.status = MeetNowStatus.EXPIRED
        item.save(update_fields=["status", "updated_at"])
        data = events.meet_updated(item)
        for uid in (item.from_user_id, item.to_user_id):
            publish(user_group(uid), "meet:updated", data)
    return True


def meet_now_expire_due(*, now: datetime | None = None) -> int:
    """Expire every pending request past ``expires_at`` (beat sweep); ``meet:updated`` to both. Returns how many."""
    now = now or timezone.now()
    due = MeetNowRequest.objects.filter(status=MeetNowStatus.PENDING, expires_at__lte=now)
    return sum(_expire_one(pk, now) for pk in due.values_list("pk", flat=True)[:1000])


# --- meetups: reads -------------------------------------------------------------------------------


def _exact_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.MEETUP_EXACT_TTL_S)


def meetups_exact_for(user_id, now: datetime | None = None) -> QuerySet[Meetup]:
    """Active meetups ``user_id`` is a current participant of, within ``MEETUP_EXACT_TTL_S`` of their time."""
    mine = MeetupParticipant.objects.filter(meetup_id=OuterRef("pk"), user_id=user_id, left_at__isnull=True)
    return Meetup.objects.filter(Exists(mine), status=MeetupStatus.ACTIVE, time__gt=_exact_cutoff(now))


def meetup_exact_partner_ids(viewer_id) -> list:
    """Exact-position provider ``meetups``: current co-participants of ``viewer_id``'s meetups in their exact window.

    Both ways by construction (the same participant rows); one query.
    """
    return list(
        MeetupParticipant.objects.filter(meetup__in=meetups_exact_for(viewer_id), left_at__isnull=True)
        .exclude(user_id=viewer_id)
        .values_list("user_id", flat=True)
        .distinct()
    )


def meetup_contact_ids(user_id) -> set:
    """Contact provider ``meetups``: people one shared an active or ended meetup with (both ways, left or not)."""
    met = Meetup.objects.filter(participants__user_id=user_id, status__in=(MeetupStatus.ACTIVE, MeetupStatus.ENDED))
    return set(
        MeetupParticipant.objects.filter(meetup__in=met).exclude(user_id=user_id).values_list("user_id", flat=True)
    )


# SQL forms of the two providers, read by ``geo.selectors.viewer_context_get`` in its one
# statement (``%(viewer)s`` is the viewer; parameters are named after the app).
meetup_exact_partner_ids.sql = """
    SELECT p.user_id FROM walks_meetupparticipant p
    WHERE p.left_at IS NULL AND p.user_id <> %(viewer)s AND p.meetup_id IN (
        SELECT m.id FROM walks_meetup m JOIN walks_meetupparticipant mine ON mine.meetup_id = m.id
        WHERE mine.user_id = %(viewer)s AND mine.left_at IS NULL
          AND m.status = %(meetups_active)s AND m.time > %(meetups_cutoff)s)
"""
meetup_contact_ids.sql = """
    SELECT p.user_id FROM walks_meetupparticipant p
    WHERE p.user_id <> %(viewer)s AND p.meetup_id IN (
        SELECT m.id FROM walks_meetup m JOIN walks_meetupparticipant mine ON mine.meetup_id = m.id
        WHERE mine.user_id = %(viewer)s AND m.status IN (%(meetups_active)s, %(meetups_ended)s))
"""


def meetup_provider_sql_params(now: datetime | None = None) -> dict:
    """Parameters of the meetup providers' SQL forms (the rule of :func:`meetups_exact_for` at ``now``)."""
    return {
        "meetups_active": MeetupStatus.ACTIVE.value,
        "meetups_ended": MeetupStatus.ENDED.value,
        "meetups_cutoff": _exact_cutoff(now),
    }


meetup_exact_partner_ids.sql_params = meetup_provider_sql_params
meetup_contact_ids.sql_params = meetup_provider_sql_params


def _with_participants(qs):
    return qs.prefetch_related(Prefetch("participants", queryset=MeetupParticipant.objects.order_by("joined_at", "id")))


def meetup_get_for(user, meetup_id) -> Meetup:
    """Meetup ``meetup_id`` if ``user`` is or was a participant; 404 ``not_found`` otherwise."""
    pk = _pk(meetup_id, "meetup")
    meetup = _with_participants(Meetup.objects.filter(pk=pk, participants__user_id=user.pk)).first()
    if meetup is None:
        raise NotFound("No such meetup.")
    return meetup


def meetup_list(user) -> QuerySet[Meetup]:
    """``user``'s upcoming and active meetups (``planned``/``active``, not left), soonest first."""
    return _with_participants(
        Meetup.objects.filter(
            participants__user_id=user.pk, participants__left_at__isnull=True, status__in=MEETUP_LIVE_STATES
        ).order_by("time", "id")
    )


def meetup_conversation_id(meetup_id) -> int | None:
    """Id of the meetup's conversation (messaging), or ``None``."""
    from messaging.services import conversation_for_owner

    conversation = conversation_for_owner(OWNER_KIND, meetup_id)
    return conversation.pk if conversation else None


def meetup_out(meetup) -> dict:
    """:func:`walks.events.meetup_json` with the conversation id."""
    return events.meetup_json(meetup, conversation_id=meetup_conversation_id(meetup.pk))


def meetup_is_member(user, key) -> bool:
    """Room check of ``meetup.<id>``: a current participant of a planned or active meetup; 404 for strangers."""
    meetup = meetup_get_for(user, key)
    return meetup.status in MEETUP_LIVE_STATES and any(
        p.user_id == user.pk and p.left_at is None for p in meetup.participants.all()
    )


def meetup_state(user, key) -> dict:
    """``room:state`` of ``meetup.<id>``: ``{"meetup", "positions"}``; exact positions only inside the exact window.

    Only fresh fixes (``geo.selectors.location_fresh_after``): a stale last
    fix predates the meetup and was never shared.
    """
    from geo.models import LocationFix
    from geo.selectors import location_fresh_after

    meetup = meetup_get_for(user, key)
    positions = []
    if meetups_exact_for(user.pk).filter(pk=meetup.pk).exists():
        ids = [p.user_id for p in meetup.participants.all() if p.left_at is None]
        positions = [
            {
                "user_id": str(f.user_id),
                "lat": round(f.location.y, 7),
                "lng": round(f.location.x, 7),
                "accuracy_m": f.accuracy_m,
                "recorded_at": f.recorded_at.isoformat(),
            }
            for f in LocationFix.objects.filter(user_id__in=ids, recorded_at__gt=location_fresh_after())
        ]
    return {"meetup": meetup_out(meetup), "positions": positions}


# --- meetups: writes ------------------------------------------------------------------------------


def geo_midpoint(a: Point, b: Point) -> Point:
    """The great-circle midpoint of two WGS84 points (spherical formula; metres-level error at city scale)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.y, a.x, b.y, b.x))
    bx = math.cos(lat2) * math.cos(lon2 - lon1)
    by = math.cos(lat2) * math.sin(lon2 - lon1)
    lat = math.atan2(math.sin(lat1) + math.sin(lat2), math.sqrt((math.cos(lat1) + bx) ** 2 + by**2))
    lon = lon1 + math.atan2(by, math.cos(lat1) + bx)
    lng = (math.degrees(lon) + 540) % 360 - 180
    return Point(round(lng, 7), round(math.degrees(lat), 7), srid=4326)


def _midpoint_of(user_ids, now: datetime) -> Point | None:
    from geo.models import LocationFix
    from geo.selectors import location_fresh_after

    fixes = list(LocationFix.objects.filter(user_id__in=user_ids, recorded_at__gt=location_fresh_after(now)))
    if len(fixes) != 2:
        return None
    return geo_midpoint(fixes[0].location, fixes[1].location)


def _publish_meetup(meetup: Meetup, user_ids=None) -> None:
    meetup = _with_participants(Meetup.objects.filter(pk=meetup.pk)).get()
    data = events.meetup_changed(meetup, conversation_id=meetup_conversation_id(meetup.pk))
    for uid in user_ids or [p.user_id for p in meetup.participants.all()]:
        publish(user_group(uid), "meetup:changed", data)


def meetup_create_from_meet(item: MeetNowRequest, *, now: datetime) -> Meetup:
    """Create the meetup of an accepted meet-now request (inside its transaction).

    Organizer: the requester; participants: both; ``location``: the midpoint
    of both people's fresh fixes or ``None``; ``time``: now; created
    ``planned`` and made ``active`` at once (its time has come); its
    conversation (messaging, kind ``meetup``, owner ``("meetup", id)``) with
    both as members. ``meetup:changed`` goes to both.
    """
    from messaging.services import conversation_create_for

    ids = [item.from_user_id, item.to_user_id]
    meetup = Meetup.objects.create(
        organizer_id=item.from_user_id, location=_midpoint_of(ids, now), time=now, status=MeetupStatus.PLANNED
    )
    MeetupParticipant.objects.bulk_create([MeetupParticipant(meetup=meetup, user_id=uid) for uid in ids])
    meetup.status = MeetupStatus.ACTIVE
    meetup.save(update_fields=["status", "updated_at"])
    conversation_create_for(
        owner_kind=OWNER_KIND,
        owner_id=meetup.pk,
        member_ids=ids,
        kind="meetup",
        owner_user_id=item.from_user_id,
        title="Meetup",
    )
    _publish_meetup(meetup)
    return meetup


def _meetup_locked(user, meetup_id) -> Meetup:
    meetup = meetup_get_for(user, meetup_id)
    return Meetup.objects.select_for_update().get(pk=meetup.pk)


def _meetup_invalid(meetup: Meetup, action: str) -> Conflict:
    return Conflict(
        f"A {meetup.status} meetup cannot be {action}.", code="invalid_transition", fields={"status": [meetup.status]}
    )


def _active_participant(meetup: Meetup, user) -> MeetupParticipant | None:
    return MeetupParticipant.objects.filter(meetup_id=meetup.pk, user_id=user.pk, left_at__isnull=True).first()


def _meetup_finish(meetup: Meetup, status: str, *, reason: str, now: datetime, notify_except=None) -> None:
    """Move a locked meetup to ``ended``/``cancelled``: ``meetup:changed``, close the room, notify the others.

    The conversation is kept (its members can still read and write the chat).
    """
    meetup.status, meetup.ended_at = status, now
    meetup.save(update_fields=["status", "ended_at", "updated_at"])
    current = list(
        MeetupParticipant.objects.filter(meetup_id=meetup.pk, left_at__isnull=True).values_list("user_id", flat=True)
    )
    _publish_meetup(meetup)
    room_close(ROOM, meetup.pk, current, reason=reason)
    if notify_except is not None:
        for uid in current:
            if uid != notify_except.pk:
                _notify(
                    uid,
                    "meetup_update",
                    f"{_name(notify_except)} {'ended' if status == MeetupStatus.ENDED else 'cancelled'} the meetup.",
                    "meetup",
                    meetup.pk,
                    {"meetup_id": meetup.pk, "status": status},
                )


def meetup_end(*, user: User, meetup_id) -> Meetup:
    """Any current participant ends a planned or active meetup: ``ended``; exact sharing stops at this commit.

    Raises 404 for a non-participant, 403 ``not_your_turn`` for one who left,
    409 ``invalid_transition`` when already ended or cancelled.
    """
    with transaction.atomic():
        meetup = _meetup_locked(user, meetup_id)
        if _active_participant(meetup, user) is None:
            raise Forbidden("You left this meetup.", code="not_your_turn")
        if meetup.status not in MEETUP_LIVE_STATES:
            raise _meetup_invalid(meetup, "ended")
        _meetup_finish(meetup, MeetupStatus.ENDED, reason="ended", now=timezone.now(), notify_except=user)
    return meetup_get_for(user, meetup.pk)


def meetup_cancel(*, user: User, meetup_id) -> Meetup:
    """The organizer cancels a planned or active meetup: ``cancelled``.

    Raises 404 for a non-participant, 403 ``not_your_turn`` for anyone but
    the organizer, 409 ``invalid_transition`` when already ended or cancelled.
    """
    with transaction.atomic():
        meetup = _meetup_locked(user, meetup_id)
        if str(meetup.organizer_id) != str(user.pk):
            raise Forbidden("Only the organizer can cancel the meetup; leave it instead.", code="not_your_turn")
        if meetup.status not in MEETUP_LIVE_STATES:
            raise _meetup_invalid(meetup, "cancelled")
        _meetup_finish(meetup, MeetupStatus.CANCELLED, reason="cancelled", now=timezone.now(), notify_except=user)
    return meetup_get_for(user, meetup.pk)


def _leave(meetup: Meetup, part: MeetupParticipant, *, reason: str, now: datetime) -> None:
    from messaging.services import conversation_for_owner, conversation_member_remove

    part.left_at = now
    part.save(update_fields=["left_at"])
    room_evict(part.user_id, ROOM, meetup.pk, reason=reason)
    conversation = conversation_for_owner(OWNER_KIND, meetup.pk)
    if conversation is not None:
        conversation_member_remove(conversation=conversation, user_id=part.user_id, reason=reason)
    if not MeetupParticipant.objects.filter(meetup_id=meetup.pk, left_at__isnull=True).exists():
        meetup.status, meetup.ended_at = MeetupStatus.ENDED, now
        meetup.save(update_fields=["status", "ended_at", "updated_at"])
    others = list(
        MeetupParticipant.objects.filter(meetup_id=meetup.pk, left_at__isnull=True).values_list("user_id", flat=True)
    )
    _publish_meetup(meetup, [part.user_id, *others])


def meetup_leave(*, user: User, meetup_id) -> Meetup:
    """A participant leaves: evicted from ``meetup.<id>`` and the conversation; the last one leaving ends it.

    Exact sharing with the others stops at this commit. Raises 404 for a
    non-participant, 409 ``invalid_transition`` when the meetup is over or
    the user already left.
    """
    with transaction.atomic():
        meetup = _meetup_locked(user, meetup_id)
        part = _active_participant(meetup, user)
        if meetup.status not in MEETUP_LIVE_STATES or part is None:
            raise _meetup_invalid(meetup, "left")
        _leave(meetup, part, reason="left", now=timezone.now())
    return meetup_get_for(user, meetup.pk)


def meetup_status_set(*, user: User, meetup_id, status: str) -> dict:
    """Client ``meetup:update`` ``{meetup_id, status}``: store and broadcast a participant's status in the room.

    ``status``: one of :data:`PARTICIPANT_STATUSES` (validated by the
    caller). Raises 404 for a non-participant, 409 ``invalid_transition``
    for a meetup that is over or a participant who left. Returns the
    ``meetup:update`` payload.
    """
    now = timezone.now()
    with transaction.atomic():
        meetup = _meetup_locked(user, meetup_id)
        part = _active_participant(meetup, user)
        if meetup.status not in MEETUP_LIVE_STATES or part is None:
            raise _meetup_invalid(meetup, "updated")
        part.status, part.status_at = status, now
        part.save(update_fields=["status", "status_at"])
        data = events.meetup_update(meetup_id=meetup.pk, user_id=user.pk, type="status", status=status, recorded_at=now)
        publish(f"{ROOM}.{meetup.pk}", "meetup:update", data)
    return data


def meetup_fix_stored(*, user_id, lat: float, lng: float, recorded_at, accuracy_m=None) -> int:
    """Receiver of ``fix_stored``: the exact fix as ``meetup:update`` (type ``position``) to each live meetup's room.

    Only meetups that are active, within ``MEETUP_EXACT_TTL_S`` of their time
    and where ``user_id`` is a current participant; one indexed query when
    there is none. Returns how many rooms got it.
    """
    ids = list(meetups_exact_for(user_id).values_list("pk", flat=True))
    for pk in ids:
        publish(
            f"{ROOM}.{pk}",
            "meetup:update",
            events.meetup_update(
                meetup_id=pk,
                user_id=user_id,
                type="position",
                lat=lat,
                lng=lng,
                accuracy_m=accuracy_m,
                recorded_at=recorded_at,
            ),
        )
    return len(ids)


def meetup_expire_due(*, now: datetime | None = None) -> int:
    """End active meetups past ``time + MEETUP_EXACT_TTL_S`` (beat sweep, reason ``expired``); returns how many."""
    now = now or timezone.now()
    due = Q(status__in=MEETUP_LIVE_STATES, time__lte=_exact_cutoff(now))
    count = 0
    for pk in Meetup.objects.filter(due).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            meetup = Meetup.objects.select_for_update(skip_locked=True).filter(due, pk=pk).first()
            if meetup is not None:
                _meetup_finish(meetup, MeetupStatus.ENDED, reason="expired", now=now)
                count += 1
    return count


def meet_cancel_for_block(*, blocker_id, blocked_id) -> None:
    """A block: pending meet-now requests between the pair are cancelled, shared live meetups cancelled (``blocked``).

    No notification (a block is never announced); ``meet:updated`` and
    ``meetup:changed`` still tell the sockets.
    """
    now = timezone.now()
    pair = Q(from_user_id=blocker_id, to_user_id=blocked_id) | Q(from_user_id=blocked_id, to_user_id=blocker_id)
    with transaction.atomic():
        for item in (
            MeetNowRequest.objects.select_for_update()
            .select_related("from_user")
            .filter(pair, status=MeetNowStatus.PENDING)
        ):
            _answer(item, MeetNowStatus.CANCELLED, now)
        shared = Meetup.objects.filter(status__in=MEETUP_LIVE_STATES, participants__user_id=blocker_id).filter(
            participants__user_id=blocked_id
        )
        for meetup in Meetup.objects.select_for_update().filter(pk__in=shared.values("pk")):
            _meetup_finish(meetup, MeetupStatus.CANCELLED, reason="blocked", now=now)
