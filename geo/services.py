"""Writes for geo: the one entry point that records a fix, map change hooks, retention.

``location_record`` serves ``POST /api/location``, ``PUT /api/users/location``
and the ``location:update`` socket event alike (DESIGN.md, "Location and
privacy"): validate, rate-limit, drop out-of-order and too-frequent fixes,
store the latest fix (one row per user), append history when the user keeps
it, then tell the map tick after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import signals
from core.errors import InvalidInput
from core.ratelimit import rate_limit_hit
from core.redis import get_redis, key

from .grid import cell_for
from .models import LocationHistory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FixResult:
    """Outcome of :func:`location_record`.

    ``status``: ``stored``; ``coalesced`` (within ``LOCATION_MIN_INTERVAL_S``
    of the stored fix, not stored); ``out_of_order`` (older than the stored
    fix, not stored).
    """

    stored: bool
    status: str
    recorded_at: datetime
    received_at: datetime

    def as_dict(self) -> dict:
        """JSON-ready ``{"stored", "status", "recorded_at", "received_at"}``."""
        return {
            "stored": self.stored,
            "status": self.status,
            "recorded_at": self.recorded_at.isoformat(),
            "received_at": self.received_at.isoformat(),
        }


def map_dirty_key() -> str:
    """Redis set of user ids whose public map state must be republished at the next tick."""
    return key("map", "dirty")


def map_live_key() -> str:
    """Redis sorted set of sharing users scored by their latest ``recorded_at`` (epoch s)."""
    return key("map", "live")


def map_visibility_changed(user_id) -> None:
    """Queue ``user_id`` for the next map tick and refresh that user's own map subscriptions.

    Call after commit when anything the visibility rule reads changed:
    sharing, ``visible_roles``, ``show_roles``, roles, a block.
    """
    from realtime.publish import channel_message_send, user_group

    get_redis().sadd(map_dirty_key(), str(user_id))
    channel_message_send(user_group(user_id), {"type": "map.refresh"}, after_commit=False)


#: One statement, one round trip, atomic on its own: read the user's settings,
#: upsert the latest fix unless it is out of order or within the minimum
#: interval, append history when kept, and report what happened. The final
#: SELECT reads geo_locationfix from the statement's snapshot, i.e. the
#: previously stored fix (PostgreSQL: data-modifying statements in WITH).
_RECORD = """
WITH s AS (
    SELECT location_sharing, keep_location_history FROM accounts_usersettings WHERE user_id = %(uid)s
), up AS (
    INSERT INTO geo_locationfix AS f
        (user_id, location, accuracy_m, speed_mps, heading_deg, recorded_at, received_at, cell, public_cell)
    VALUES (%(uid)s, ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography,
            %(accuracy_m)s, %(speed_mps)s, %(heading_deg)s, %(recorded_at)s, %(received_at)s, %(cell)s, '')
    ON CONFLICT (user_id) DO UPDATE SET
        location = EXCLUDED.location, accuracy_m = EXCLUDED.accuracy_m, speed_mps = EXCLUDED.speed_mps,
        heading_deg = EXCLUDED.heading_deg, recorded_at = EXCLUDED.recorded_at,
        received_at = EXCLUDED.received_at, cell = EXCLUDED.cell
    WHERE f.recorded_at <= EXCLUDED.recorded_at - make_interval(secs => %(min_interval)s)
    RETURNING f.public_cell
), history AS (
    INSERT INTO geo_locationhistory
        (user_id, location, accuracy_m, speed_mps, heading_deg, recorded_at, received_at)
    SELECT %(uid)s, ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography,
           %(accuracy_m)s, %(speed_mps)s, %(heading_deg)s, %(recorded_at)s, %(received_at)s
    FROM up, s WHERE s.keep_location_history
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM up), (SELECT public_cell FROM up),
       COALESCE((SELECT location_sharing FROM s), false),
       (SELECT recorded_at FROM geo_locationfix WHERE user_id = %(uid)s),
       (SELECT count(*) FROM history)
"""


def location_record(*, user, fix: dict) -> FixResult:
    """Record one fix of ``user``; ``fix`` is the ``validated_data`` of ``LocationFixInputSerializer``.

    ``fix``: ``lat`` [-90, 90], ``lng`` [-180, 180] (finite WGS84 degrees),
    optional ``timestamp`` (aware UTC datetime; default now; at most
    ``LOCATION_MAX_FUTURE_S`` ahead), ``accuracy_m`` (m), ``speed_mps``
    (m/s), ``heading_deg`` (degrees). Views and socket handlers validate
    with that serializer through ``core.validation.validated``.

    Raises :class:`InvalidInput` (400 ``timestamp_in_future``) and
    ``RateLimited`` (429) beyond ``THROTTLE_LOCATION`` fixes per user (one
    budget for HTTP and socket). Every stored fix sends ``core.signals.fix_stored``
    after commit (walks, meetups, parties and proximity alerts listen). A fix older than the stored one, or within
    ``LOCATION_MIN_INTERVAL_S`` of it, is answered and not stored. Stored
    fixes of sharing users are queued for the map tick when their grid cell
    differs from the published one.
    """
    values = fix
    received_at = timezone.now()
    recorded_at = values.get("timestamp") or received_at
    if recorded_at > received_at + timedelta(seconds=settings.LOCATION_MAX_FUTURE_S):
        raise InvalidInput(
            f"timestamp is more than {settings.LOCATION_MAX_FUTURE_S} s in the future.",
            code="timestamp_in_future",
            fields={"timestamp": ["In the future."]},
        )
    rate_limit_hit("location", str(user.pk), settings.THROTTLE_LOCATION)

    cell = cell_for(values["lat"], values["lng"])
    params = {
        "uid": user.pk,
        "lat": values["lat"],
        "lng": values["lng"],
        "accuracy_m": values.get("accuracy_m"),
        "speed_mps": values.get("speed_mps"),
        "heading_deg": values.get("heading_deg"),
        "recorded_at": recorded_at,
        "received_at": received_at,
        "cell": cell.id,
        "min_interval": float(settings.LOCATION_MIN_INTERVAL_S),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD, params)
        stored, public_cell, sharing, previous_at, _ = cursor.fetchone()
    if not stored:
        status = "out_of_order" if previous_at and recorded_at < previous_at else "coalesced"
        return FixResult(False, status, recorded_at, received_at)
    if sharing:
        changed = cell.id != public_cell
        transaction.on_commit(lambda: _map_fix_stored(user.pk, recorded_at, changed))
    if signals.fix_stored.has_listeners():
        transaction.on_commit(lambda: _fix_stored_send(user.pk, values, recorded_at))
    return FixResult(True, "stored", recorded_at, received_at)


def _fix_stored_send(user_id, values: dict, recorded_at: datetime) -> None:
    """Send ``fix_stored``; a failing receiver is logged and never fails the fix that was stored."""
    results = signals.fix_stored.send_robust(
        sender="geo",
        user_id=user_id,
        lat=values["lat"],
        lng=values["lng"],
        recorded_at=recorded_at,
        accuracy_m=values.get("accuracy_m"),
        speed_mps=values.get("speed_mps"),
        heading_deg=values.get("heading_deg"),
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error("fix_stored receiver %r failed", receiver, exc_info=result)


def _map_fix_stored(user_id, recorded_at: datetime, cell_changed: bool) -> None:
    r = get_redis()
    pipe = r.pipeline(transaction=False)
    pipe.zadd(map_live_key(), {str(user_id): recorded_at.timestamp()})
    if cell_changed:
        pipe.sadd(map_dirty_key(), str(user_id))
    pipe.execute()


def location_history_prune(now: datetime | None = None) -> int:
    """Delete history rows older than ``LOCATION_HISTORY_RETENTION_DAYS``; returns the count."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOCATION_HISTORY_RETENTION_DAYS)
    deleted, _ = LocationHistory.objects.filter(recorded_at__lt=cutoff).delete()
    return deleted
