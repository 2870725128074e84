"""Writes for geo: the one entry point that records a fix, map change hooks, retention.

``location_record`` serves ``POST /api/location``, ``PUT /api/users/location``
and the ``location:update`` socket event alike (DESIGN.md, "Location and
privacy"): validate, rate-limit, drop out-of-order and too-frequent fixes,
store the latest fix (one row per user), append history when the user keeps
it, then tell the map tick after commit.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import signals
from core.errors import InvalidInput, NotFound, RateLimited
from core.ratelimit import rate_limit_count_many
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


#: One statement, one round trip, atomic on its own, for a whole batch of fixes (at most one
#: per user): read the users' settings, upsert each latest fix unless it is out of order or
#: within the minimum interval, append history for users who keep it, and report per fix
#: what happened. ``prev`` reads geo_locationfix from the statement's snapshot, i.e. the
#: previously stored fixes (PostgreSQL: data-modifying statements in WITH see the snapshot).
#: Fixes of users that no longer exist are skipped (no foreign-key failure of the batch).
_RECORD_MANY = """
WITH v AS (
    SELECT * FROM unnest(%(uids)s::uuid[], %(lats)s::float8[], %(lngs)s::float8[], %(acc)s::float8[],
                         %(spd)s::float8[], %(hdg)s::float8[], %(rec)s::timestamptz[], %(recv)s::timestamptz[],
                         %(cells)s::text[])
        AS v(user_id, lat, lng, accuracy_m, speed_mps, heading_deg, recorded_at, received_at, cell)
    WHERE EXISTS (SELECT 1 FROM accounts_user u WHERE u.id = v.user_id)
), s AS (
    SELECT user_id, location_sharing, keep_location_history FROM accounts_usersettings
    WHERE user_id = ANY(%(uids)s::uuid[])
), prev AS (
    SELECT user_id, recorded_at FROM geo_locationfix WHERE user_id = ANY(%(uids)s::uuid[])
), up AS (
    INSERT INTO geo_locationfix AS f
        (user_id, location, accuracy_m, speed_mps, heading_deg, recorded_at, received_at, cell, public_cell)
    SELECT user_id, ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography,
           accuracy_m, speed_mps, heading_deg, recorded_at, received_at, cell, ''
    FROM v ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET
        location = EXCLUDED.location, accuracy_m = EXCLUDED.accuracy_m, speed_mps = EXCLUDED.speed_mps,
        heading_deg = EXCLUDED.heading_deg, recorded_at = EXCLUDED.recorded_at,
        received_at = EXCLUDED.received_at, cell = EXCLUDED.cell
    WHERE f.recorded_at <= EXCLUDED.recorded_at - make_interval(secs => %(min_interval)s)
    RETURNING f.user_id, f.public_cell
), history AS (
    INSERT INTO geo_locationhistory
        (user_id, location, accuracy_m, speed_mps, heading_deg, recorded_at, received_at)
    SELECT v.user_id, ST_SetSRID(ST_MakePoint(v.lng, v.lat), 4326)::geography,
           v.accuracy_m, v.speed_mps, v.heading_deg, v.recorded_at, v.received_at
    FROM v JOIN up ON up.user_id = v.user_id JOIN s ON s.user_id = v.user_id
    WHERE s.keep_location_history
)
SELECT v.user_id::text, up.user_id IS NOT NULL, up.public_cell, COALESCE(s.location_sharing, false), prev.recorded_at
FROM v LEFT JOIN up ON up.user_id = v.user_id LEFT JOIN s ON s.user_id = v.user_id
       LEFT JOIN prev ON prev.user_id = v.user_id
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
    (when it has receivers) and ``core.signals.fixes_stored`` after commit
    (walks, meetups, parties and proximity alerts listen). A fix older than the stored one, or within
    ``LOCATION_MIN_INTERVAL_S`` of it, is answered and not stored. Stored
    fixes of sharing users are queued for the map tick when their grid cell
    differs from the published one. This is :func:`location_record_many` for one fix.
    """
    result = location_record_many([(user.pk, fix)])[0]
    if isinstance(result, Exception):
        raise result
    return result


def location_record_many(items: list[tuple], *, received_at: list[datetime] | None = None) -> list:
    """Record a batch of fixes in one SQL statement (group commit); returns one outcome per item, in order.

    ``items``: ``(user_id, fix)`` pairs, ``fix`` as for :func:`location_record`;
    ``received_at``: when each fix reached the server (aware UTC; default
    now). An outcome is a :class:`FixResult`, or the exception that refused
    that fix alone (``InvalidInput`` ``timestamp_in_future``, ``RateLimited``).
    An outage of PostgreSQL or Redis raises for the whole batch (nothing is
    stored: a batch is one statement, or one transaction when a user has
    several fixes in it). Fixes are committed when this returns
    (autocommit) or with the caller's transaction; the map bookkeeping
    (one Redis pipeline) and the ``fix_stored``/``fixes_stored`` signals run
    after commit, once per batch. Several fixes of one user in a batch are
    written in order, one statement per round, so each is judged against the
    one before it, as if sent one by one.
    """
    now = timezone.now()
    received = received_at or [now] * len(items)
    # Canonical ids: the rows come back keyed by ``user_id::text``, and a user given once as a
    # UUID and once as a string must still land in two rounds.
    items = [(uuid.UUID(str(uid)), values) for uid, values in items]
    outcomes: list = [None] * len(items)
    accepted: list[int] = []
    for i, (_, values) in enumerate(items):
        recorded_at = values.get("timestamp") or received[i]
        if recorded_at > received[i] + timedelta(seconds=settings.LOCATION_MAX_FUTURE_S):
            outcomes[i] = InvalidInput(
                f"timestamp is more than {settings.LOCATION_MAX_FUTURE_S} s in the future.",
                code="timestamp_in_future",
                fields={"timestamp": ["In the future."]},
            )
        else:
            accepted.append(i)
    if not accepted:
        return outcomes
    verdicts = rate_limit_count_many("location", [str(items[i][0]) for i in accepted], settings.THROTTLE_LOCATION)
    allowed: list[int] = []
    for i, (ok, retry_after) in zip(accepted, verdicts, strict=True):
        if ok:
            allowed.append(i)
        else:
            outcomes[i] = RateLimited(f"Rate limit of {settings.THROTTLE_LOCATION} exceeded.", retry_after=retry_after)

    stored: list[tuple] = []  # (item index, (user_id, values, recorded_at, sharing, cell_changed))
    rounds: list[tuple[set, list[int]]] = []
    for i in allowed:
        uid = items[i][0]
        for r in rounds:
            if uid not in r[0]:
                r[0].add(uid)
                r[1].append(i)
                break
        else:
            rounds.append(({uid}, [i]))
    if len(rounds) == 1:
        _record_round(items, rounds[0][1], received, outcomes, stored)  # one statement: atomic on its own
    else:
        with transaction.atomic():  # several rounds commit together or not at all
            for _, indexes in rounds:
                _record_round(items, indexes, received, outcomes, stored)
    if stored:
        # In the order the fixes arrived (rows are written in user-id order).
        in_order = [entry for _, entry in sorted(stored, key=lambda pair: pair[0])]
        transaction.on_commit(lambda: _fixes_stored_after_commit(in_order))
    return outcomes


def _record_round(items, indexes: list[int], received, outcomes: list, stored: list) -> None:
    """Run :data:`_RECORD_MANY` for ``indexes`` (one fix per user) and fill their outcomes."""
    uids, lats, lngs, acc, spd, hdg, rec, recv, cells = [], [], [], [], [], [], [], [], []
    cell_by_index = {}
    # Rows are locked in user-id order, so two batches of two server processes sharing users
    # never wait on each other in opposite orders (a deadlock would fail a whole batch).
    indexes = sorted(indexes, key=lambda i: items[i][0])
    for i in indexes:
        uid, values = items[i]
        cell = cell_for(values["lat"], values["lng"])
        cell_by_index[i] = cell.id
        uids.append(str(uid))
        lats.append(values["lat"])
        lngs.append(values["lng"])
        acc.append(values.get("accuracy_m"))
        spd.append(values.get("speed_mps"))
        hdg.append(values.get("heading_deg"))
        rec.append(values.get("timestamp") or received[i])
        recv.append(received[i])
        cells.append(cell.id)
    params = {
        "uids": uids,
        "lats": lats,
        "lngs": lngs,
        "acc": acc,
        "spd": spd,
        "hdg": hdg,
        "rec": rec,
        "recv": recv,
        "cells": cells,
        "min_interval": float(settings.LOCATION_MIN_INTERVAL_S),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_MANY, params)
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    for i, uid, recorded_at in zip(indexes, uids, rec, strict=True):
        row = rows.get(uid)
        if row is None:  # the account was deleted while its socket was open
            outcomes[i] = NotFound("No such user.")
            continue
        was_stored, public_cell, sharing, previous_at = row
        if not was_stored:
            status = "out_of_order" if previous_at and recorded_at < previous_at else "coalesced"
            outcomes[i] = FixResult(False, status, recorded_at, received[i])
            continue
        outcomes[i] = FixResult(True, "stored", recorded_at, received[i])
        stored.append((i, (items[i][0], items[i][1], recorded_at, sharing, cell_by_index[i] != public_cell)))


def _fixes_stored_after_commit(stored: list[tuple]) -> None:
    """After commit, once per batch: the map's Redis bookkeeping, then the fix signals (never raise)."""
    try:
        _map_fixes_stored([(uid, recorded_at, changed) for uid, _, recorded_at, sharing, changed in stored if sharing])
    except Exception:
        logger.exception("map bookkeeping of %s stored fixes failed", len(stored))
    fixes = [
        {
            "user_id": uid,
            "lat": values["lat"],
            "lng": values["lng"],
            "recorded_at": recorded_at,
            "accuracy_m": values.get("accuracy_m"),
            "speed_mps": values.get("speed_mps"),
            "heading_deg": values.get("heading_deg"),
        }
        for uid, values, recorded_at, _, _ in stored
    ]
    if signals.fixes_stored.has_listeners():
        for receiver, result in signals.fixes_stored.send_robust(sender="geo", fixes=fixes):
            if isinstance(result, Exception):
                logger.error("fixes_stored receiver %r failed", receiver, exc_info=result)
    if signals.fix_stored.has_listeners():
        for fix in fixes:
            for receiver, result in signals.fix_stored.send_robust(sender="geo", **fix):
                if isinstance(result, Exception):
                    logger.error("fix_stored receiver %r failed", receiver, exc_info=result)


def _map_fixes_stored(entries: list[tuple]) -> None:
    """One Redis pipeline: refresh the live set and queue cell changes for the map tick."""
    if not entries:
        return
    r = get_redis()
    pipe = r.pipeline(transaction=False)
    pipe.zadd(map_live_key(), {str(uid): recorded_at.timestamp() for uid, recorded_at, _ in entries})
    dirty = [str(uid) for uid, _, changed in entries if changed]
    if dirty:
        pipe.sadd(map_dirty_key(), *dirty)
    pipe.execute()


def location_history_prune(now: datetime | None = None) -> int:
    """Delete history rows older than ``LOCATION_HISTORY_RETENTION_DAYS``; returns the count."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOCATION_HISTORY_RETENTION_DAYS)
    deleted, _ = LocationHistory.objects.filter(recorded_at__lt=cutoff).delete()
    return deleted
