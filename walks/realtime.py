"""Socket side of walks: the ``walk`` room kind and the client events ``walk:request``/``accept``/``decline``.

* Room ``walk.<id>``: joined with ``room:join {"kind": "walk", "key": "<id>"}``
  by the two walkers while the walk is accepted or in progress; anyone else
  gets ``not_found`` (the same answer as an unknown id), a walker of a walk
  in another state ``forbidden``. ``room:state`` is ``{"walk", "positions"}``:
  the walk and both walkers' latest exact fixes. ``walk:location`` then
  streams every stored fix of either walker.
* ``walk:request`` ``{partner_id, meeting_point?, message?}``, ``walk:accept``
  / ``walk:decline`` ``{walk_id}``: the same services as REST; ack the walk.
"""

from __future__ import annotations

from core.validation import validated
from realtime.publish import run_sync
from realtime.registry import handler, on_connect
from realtime.rooms import room_kind

from . import events, meet, services
from .models import WALK_LIVE_STATES
from .selectors import walk_get_for, walks_live_for
from .serializers import MeetupStatusSerializer, WalkIdSerializer, WalkRequestSerializer


def walk_can_join(user, key: str) -> bool:
    """Walkers of a live walk only; ``NotFound`` for strangers and unknown ids."""
    walk = walk_get_for(user, key)
    return walk.status in WALK_LIVE_STATES and walks_live_for(user.pk).filter(pk=walk.pk).exists()


def walk_state(user, key: str) -> dict:
    """``{"walk": <walk>, "positions": [{user_id, lat, lng, accuracy_m, recorded_at}]}`` (exact, both walkers).

    Only **fresh** fixes (``geo.selectors.location_fresh_after``): a walker's
    last fix from hours ago (where the app was last open, often home) was
    never shared and is not what the walk consents to.
    """
    from geo.models import LocationFix
    from geo.selectors import location_fresh_after

    walk = walk_get_for(user, key)
    fixes = LocationFix.objects.filter(
        user_id__in=[walk.initiator_id, walk.partner_id], recorded_at__gt=location_fresh_after()
    )
    return {
        "walk": events.walk_json(walk),
        "positions": [
            {
                "user_id": str(f.user_id),
                "lat": round(f.location.y, 7),
                "lng": round(f.location.x, 7),
                "accuracy_m": f.accuracy_m,
                "recorded_at": f.recorded_at.isoformat(),
            }
            for f in fixes
        ],
    }


room_kind("walk", can_join=walk_can_join, state=walk_state)


def _request(user, data):
    values = validated(WalkRequestSerializer, data)
    return events.walk_json(services.walk_request(user=user, **values))


def _walk_id(data) -> int:
    if isinstance(data, dict) and "walk_id" not in data and "walkId" in data:
        data = {**data, "walk_id": data["walkId"]}
    return validated(WalkIdSerializer, data)["walk_id"]


@handler("walk:request", "walk_request")
async def walk_request(consumer, data):
    """``{partner_id, meeting_point?: {lat, lng}, message?}``: same as ``POST /api/walks/request``; ack the walk."""
    if isinstance(data, dict) and "partner_id" not in data and "partnerId" in data:
        data = {**data, "partner_id": data["partnerId"]}
    return await run_sync(_request)(consumer.user, data)


@handler("walk:accept", "walk_accept")
async def walk_accept(consumer, data):
    """``{walk_id}``: same as ``PUT /api/walks/{id}/accept``; ack the walk."""
    walk_id = _walk_id(data)
    return await run_sync(lambda: events.walk_json(services.walk_accept(user=consumer.user, walk_id=walk_id)))()


@handler("walk:decline", "walk_decline")
async def walk_decline(consumer, data):
    """``{walk_id}``: same as ``PUT /api/walks/{id}/decline``; ack the walk."""
    walk_id = _walk_id(data)
    return await run_sync(lambda: events.walk_json(services.walk_decline(user=consumer.user, walk_id=walk_id)))()


# --- meet-now and meetups ------------------------------------------------------------------------

room_kind("meetup", can_join=meet.meetup_is_member, state=meet.meetup_state)


@on_connect
async def meet_requests_resend(consumer):
    """On every connect, re-send ``meet:request`` for each request still pending to this user (one query).

    Sent to this socket only, without ``offset`` (a replay with ``?since=``
    may deliver the same request twice; clients key them by ``id``).
    """
    for data in await run_sync(meet.meet_pending_for_target)(consumer.user.pk):
        await consumer.send_event("meet:request", data)


@handler("meetup:update", "meetup_update")
async def meetup_update(consumer, data):
    """``{meetup_id | meetupId, status}``: announce your status in the meetup room; ack the ``meetup:update`` sent."""
    if isinstance(data, dict) and "meetup_id" not in data and "meetupId" in data:
        data = {**data, "meetup_id": data["meetupId"]}
    values = validated(MeetupStatusSerializer, data)
    return await run_sync(meet.meetup_status_set)(user=consumer.user, **values)
