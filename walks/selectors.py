"""Reads of walks: who may see a walk, live walks of a user, the exact-position and contact providers,
availability for ``/api/users/nearby?available=true``, and place suggestions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import GenderPreference, UserSettings, Visibility
from core.errors import NotFound

from .models import WALK_LIVE_STATES, Walk, WalkAvailability, WalkStatus


def walk_expires_at(walk) -> datetime | None:
    """When ``walk`` expires (UTC), or ``None`` for a walk in a final state.

    ``requested``: ``created_at + WALK_REQUEST_TTL_S``; ``accepted``:
    ``accepted_at + WALK_ACTIVE_TTL_S``; ``in_progress``: ``start_time +
    WALK_ACTIVE_TTL_S`` (seed 001 ``walk:active`` TTL, 4 h).
    """
    if walk.status == WalkStatus.REQUESTED and walk.created_at:
        return walk.created_at + timedelta(seconds=settings.WALK_REQUEST_TTL_S)
    if walk.status == WalkStatus.ACCEPTED and walk.accepted_at:
        return walk.accepted_at + timedelta(seconds=settings.WALK_ACTIVE_TTL_S)
    if walk.status == WalkStatus.IN_PROGRESS and walk.start_time:
        return walk.start_time + timedelta(seconds=settings.WALK_ACTIVE_TTL_S)
    return None


def _live_q(now: datetime | None = None) -> Q:
    """Walks that are accepted or in progress and not past their expiry at ``now`` (even before the sweep)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.WALK_ACTIVE_TTL_S)
    return Q(status=WalkStatus.ACCEPTED, accepted_at__gt=cutoff) | Q(
        status=WalkStatus.IN_PROGRESS, start_time__gt=cutoff
    )


def walks_live_for(user_id, now: datetime | None = None) -> QuerySet[Walk]:
    """``user_id``'s walks that are accepted or in progress and not expired (one indexed query)."""
    return Walk.objects.filter(Q(initiator_id=user_id) | Q(partner_id=user_id)).filter(_live_q(now))


def walk_exact_partner_ids(viewer_id) -> list:
    """Exact-position provider ``walks``: the other walker of every live walk of ``viewer_id``.

    Both ways by construction (the same walk rows). Blocks are removed by
    ``geo.selectors.exact_user_ids_for``; a block also cancels the walk.
    """
    rows = walks_live_for(viewer_id).values_list("initiator_id", "partner_id")
    return [b if str(a) == str(viewer_id) else a for a, b in rows]


def walk_contact_ids(user_id) -> set:
    """Contact provider ``walks``: people ``user_id`` completed a walk with (both ways)."""
    rows = Walk.objects.filter(Q(initiator_id=user_id) | Q(partner_id=user_id), status=WalkStatus.COMPLETED)
    return {b if str(a) == str(user_id) else a for a, b in rows.values_list("initiator_id", "partner_id")}


# SQL forms of the two providers, read by ``geo.selectors.viewer_context_get`` in its one
# statement (``%(viewer)s`` is the viewer; parameters are named after the app).
walk_exact_partner_ids.sql = """
    SELECT CASE WHEN w.initiator_id = %(viewer)s THEN w.partner_id ELSE w.initiator_id END
    FROM walks_walk w
    WHERE (w.initiator_id = %(viewer)s OR w.partner_id = %(viewer)s)
      AND ((w.status = %(walks_accepted)s AND w.accepted_at > %(walks_cutoff)s)
        OR (w.status = %(walks_in_progress)s AND w.start_time > %(walks_cutoff)s))
"""
walk_contact_ids.sql = """
    SELECT CASE WHEN w.initiator_id = %(viewer)s THEN w.partner_id ELSE w.initiator_id END
    FROM walks_walk w
    WHERE (w.initiator_id = %(viewer)s OR w.partner_id = %(viewer)s) AND w.status = %(walks_completed)s
"""


def walk_provider_sql_params(now: datetime | None = None) -> dict:
    """Parameters of the walks providers' SQL forms (the rule of :func:`walks_live_for` at ``now``)."""
    return {
        "walks_accepted": WalkStatus.ACCEPTED.value,
        "walks_in_progress": WalkStatus.IN_PROGRESS.value,
        "walks_completed": WalkStatus.COMPLETED.value,
        "walks_cutoff": (now or timezone.now()) - timedelta(seconds=settings.WALK_ACTIVE_TTL_S),
    }


walk_exact_partner_ids.sql_params = walk_provider_sql_params
walk_contact_ids.sql_params = walk_provider_sql_params


def walk_get_for(user, walk_id) -> Walk:
    """The walk ``walk_id`` if ``user`` is one of its walkers.

    Raises ``NotFound`` (404 ``not_found``) for a malformed id, an unknown
    walk and someone else's walk alike, so walk ids cannot be probed.
    """
    try:
        pk = int(str(walk_id))
    except (TypeError, ValueError):
        raise NotFound("No such walk.") from None
    walk = Walk.objects.filter(pk=pk).filter(Q(initiator_id=user.pk) | Q(partner_id=user.pk)).first()
    if walk is None:
        raise NotFound("No such walk.")
    return walk


def walk_history(user) -> QuerySet[Walk]:
    """Every walk of ``user`` (either side), newest first."""
    return Walk.objects.filter(Q(initiator_id=user.pk) | Q(partner_id=user.pk)).order_by("-created_at", "-id")


def user_visible_to(viewer, target_id) -> bool:
    """Whether ``target_id`` is visible to ``viewer`` on the map, wherever they are (clauses 1-6 and 8).

    Same rule as the map (``geo.selectors.visibility_allows``) without the
    radius (clause 7): the target shares, is active, has a fresh fix that the
    map tick has published (or the viewer sees them exactly), passes
    ``visible_roles``/``show_roles``, no block either way, contacts level.
    """
    from geo.models import LocationFix
    from geo.selectors import TargetState, viewer_context_get, visibility_allows

    row = (
        UserSettings.objects.filter(user_id=target_id, user__is_active=True)
        .select_related("user")
        .only("location_sharing", "visible_roles", "visibility", "user__roles", "user__is_active")
        .first()
    )
    fix = LocationFix.objects.filter(user_id=target_id).only("recorded_at", "public_location").first()
    if row is None or fix is None:
        return False
    ctx = viewer_context_get(viewer)
    if fix.public_location is None and row.user_id not in ctx.exact_user_ids:
        return False
    target = TargetState(
        user_id=row.user_id,
        sharing=row.location_sharing,
        roles=frozenset(row.user.roles or []),
        visible_roles=frozenset(row.visible_roles or []),
        recorded_at=fix.recorded_at,
        contacts_only=row.visibility == Visibility.CONTACTS,
    )
    return visibility_allows(ctx, target)


# --- availability (seed 001 status "available") ------------------------------------------------


def walk_available_get(user) -> bool:
    """Whether ``user`` marked themself available for a walk (default ``False``)."""
    return WalkAvailability.objects.filter(user_id=user.pk, available=True).exists()


def _age(birth_date, today) -> int | None:
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def available_walkers_filter(user, nodes: list[dict]) -> list[dict]:
    """Keep the map nodes of users available for a walk whose preferences match ``user``'s both ways.

    For ``GET /api/users/nearby?available=true`` (seed 001): ``nodes`` are
    the items of ``geo.selectors.nearby_users_list(user)``, which already
    applied the visibility rule, the snapped precision and the caller's own
    age range and gender preference. A node is kept when its user has
    ``WalkAvailability.available`` and is not ``away`` (``presence:offline``),
    the paces match (equal, or either unset), and the *target's* preferences
    accept the caller: the caller's age lies in the target's age range
    widened to 5-year bands (``geo.selectors.age_band_range``; a caller
    without a birth date fails a set range) and the target's
    ``gender_preference`` is ``any`` or the caller's gender. Two queries and
    one Redis round trip; order is kept.
    """
    from geo.selectors import age_band_range
    from realtime.presence import presence_get

    ids = [node["user_id"] for node in nodes]
    if not ids:
        return []
    available = set(WalkAvailability.objects.filter(user_id__in=ids, available=True).values_list("user_id", flat=True))
    if not available:
        return []
    mine = UserSettings.objects.filter(user_id=user.pk).only("preferred_pace").first()
    my_pace = mine.preferred_pace if mine else ""
    my_age = _age(user.birth_date, timezone.now().date())
    keep = set()
    for row in UserSettings.objects.filter(user_id__in=available).only(
        "user_id", "preferred_pace", "age_range_min", "age_range_max", "gender_preference"
    ):
        if my_pace and row.preferred_pace and my_pace != row.preferred_pace:
            continue
        if row.age_range_min is not None or row.age_range_max is not None:
            low, high = age_band_range(row.age_range_min, row.age_range_max)
            if my_age is None or (low is not None and my_age < low) or (high is not None and my_age > high):
                continue
        if row.gender_preference and row.gender_preference != GenderPreference.ANY:
            if user.gender != row.gender_preference:
                continue
        keep.add(row.user_id)
    away = {uid for uid in keep if presence_get(uid).get("status") == "away"}
    keep -= away
    return [node for node in nodes if node["user_id"] in keep]


# --- suggestions -------------------------------------------------------------------------------


def walk_suggestions(walk: Walk, *, origin=None, radius_m: float, categories=None, query: str = "", limit: int = 50):
    """Places (``places.models.Place``) near ``walk``: along its route, else near its meeting point, else ``origin``.

    ``origin``: a fallback WGS84 point (the caller's latest fix). Each item
    carries ``distance`` (``.m`` metres) from the route or point, nearest
    first. Returns ``(basis, items)`` where ``basis`` is ``"route"``,
    ``"meeting_point"`` or ``"origin"``. Raises ``NotFound``
    (404 ``no_location``) when there is nothing to search around.
    """
    from places.selectors import place_list_near, place_list_nearby

    if walk.route is not None:
        qs = place_list_near(walk.route, radius_m=radius_m, categories=categories, query=query)
        return "route", list(qs[:limit])
    point, basis = (walk.meeting_point, "meeting_point") if walk.meeting_point is not None else (origin, "origin")
    if point is None:
        raise NotFound("The walk has no meeting point or route yet and you have sent no location.", code="no_location")
    qs = place_list_nearby(lat=point.y, lng=point.x, radius_m=radius_m, categories=categories, query=query)
    return basis, list(qs[:limit])


def walk_live_ids_of(user_id) -> list[int]:
    """Ids of ``user_id``'s live walks (accepted or in progress, not expired)."""
    return list(walks_live_for(user_id).values_list("pk", flat=True))


__all__ = [
    "WALK_LIVE_STATES",
    "available_walkers_filter",
    "user_visible_to",
    "walk_contact_ids",
    "walk_exact_partner_ids",
    "walk_expires_at",
    "walk_get_for",
    "walk_history",
    "walks_live_for",
]


#: One statement for a whole batch of stored fixes, no ORM compilation per fix: which of these
#: users have a live walk, an exact-sharing meetup or an active proximity alert? (The ORM
#: version of the same three EXISTS cost ~4 ms of CPU per fix to build; this costs one round
#: trip per batch.)
_FIX_LISTENERS_SQL = """
SELECT u.id::text FROM unnest(%(u)s::uuid[]) AS u(id)
WHERE EXISTS (
    SELECT 1 FROM walks_walk w
    WHERE (w.initiator_id = u.id OR w.partner_id = u.id)
      AND ((w.status = %(accepted)s AND w.accepted_at > %(walk_cutoff)s)
        OR (w.status = %(in_progress)s AND w.start_time > %(walk_cutoff)s))
) OR EXISTS (
    SELECT 1 FROM walks_meetupparticipant p JOIN walks_meetup m ON m.id = p.meetup_id
    WHERE p.user_id = u.id AND p.left_at IS NULL AND m.status = %(meetup_active)s AND m.time > %(meetup_cutoff)s
) OR EXISTS (
    SELECT 1 FROM walks_proximityalert a
    WHERE (a.from_user_id = u.id OR a.to_user_id = u.id) AND a.status = %(alert_active)s
)
"""


def fix_listeners_of(user_ids, now: datetime | None = None) -> set[str]:
    """Of ``user_ids``, those whose stored fix concerns a walk, meetup or proximity alert (one statement).

    Returns their ids as strings. A user is in it when they have a live walk
    (the rule of :func:`walks_live_for`), an exact-sharing meetup
    (``walks.meet.meetups_exact_for``) or an active proximity alert. The
    ``fixes_stored`` receiver asks this once per batch, so a batch of fixes
    of users with none of them (nearly every fix) costs one indexed
    statement. ``tests/walks`` checks it agrees with the ORM selectors.
    """
    from django.db import connection

    from .models import MeetupStatus, ProximityStatus

    ids = [str(u) for u in user_ids]
    if not ids:
        return set()
    now = now or timezone.now()
    params = {
        "u": ids,
        "accepted": WalkStatus.ACCEPTED.value,
        "in_progress": WalkStatus.IN_PROGRESS.value,
        "walk_cutoff": now - timedelta(seconds=settings.WALK_ACTIVE_TTL_S),
        "meetup_active": MeetupStatus.ACTIVE.value,
        "meetup_cutoff": now - timedelta(seconds=settings.MEETUP_EXACT_TTL_S),
        "alert_active": ProximityStatus.ACTIVE.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_FIX_LISTENERS_SQL, params)
        return {row[0] for row in cursor.fetchall()}


def fix_listeners_any(user_id, now: datetime | None = None) -> bool:
    """Whether a stored fix of ``user_id`` concerns any walk, meetup or proximity alert (:func:`fix_listeners_of`)."""
    return str(user_id) in fix_listeners_of([user_id], now)
