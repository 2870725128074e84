"""The public map tick: publishes strangers' cell changes on a coarse clock.

A stranger's snapped position only changes when they cross into another grid
cell, so the live map publishes on cell change, not per fix, and only at
wall-clock ticks of ``MAP_PUBLISH_TICK_S`` seconds, so neither the
coordinates nor the timing of an event locates anyone better than the grid
(issue 2, "Realtime"). Each tick:

1. takes the users queued by ``geo.services`` (cell change, sharing or
   visibility change) and the sharing users whose fix just went stale;
2. locks their fix rows, moves ``public_cell``/``public_location`` to the
   current cell (or clears them when the user is no longer visible);
3. after commit, publishes the tick's changes (one ``map.cell`` dict per
   user, with the ``cell.*`` tiles of its old and new snapped points) as one
   Redis message; every server process hands each change to its local
   subscriptions of those tiles (``geo.live``), which apply the visibility
   rule per viewer (``geo.selectors.visibility_allows``) before anything
   leaves the server.

Several server processes may run the ticker; a Redis ``SET NX`` per tick
index makes exactly one of them handle each tick.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Visibility
from core.redis import get_redis, key

from .grid import cell_centre, tiles_for_point
from .live import map_changes_channel
from .selectors import location_fresh_after
from .services import map_dirty_key, map_live_key

logger = logging.getLogger(__name__)

_SELECT = """
SELECT u.id, u.is_active, u.roles, s.location_sharing, s.visible_roles, f.cell, f.public_cell, f.recorded_at,
       s.visibility
FROM accounts_user u
JOIN accounts_usersettings s ON s.user_id = u.id
JOIN geo_locationfix f ON f.user_id = u.id
WHERE u.id = ANY(%s::uuid[])
ORDER BY f.user_id
FOR UPDATE OF f
"""
# ORDER BY: rows are locked in user-id order, the order the fixes' group commit
# (geo.services.location_record_many) locks them in; two orders deadlocked
# (bench: 1 200-socket ingest, ~50 batches aborted by PostgreSQL in 30 s).

_UPDATE = """
UPDATE geo_locationfix AS f SET
    public_cell = v.cell,
    public_location = CASE WHEN v.cell = '' THEN NULL
        ELSE ST_SetSRID(ST_MakePoint(v.lng, v.lat), 4326)::geography END,
    public_at = CASE WHEN v.cell = '' THEN NULL ELSE %s END
FROM unnest(%s::uuid[], %s::text[], %s::float8[], %s::float8[]) AS v(user_id, cell, lat, lng)
WHERE f.user_id = v.user_id
"""


def map_publish_tick(now=None, seq: int | None = None) -> dict:
    """Run one tick; returns ``{"users", "published", "stale"}`` counts.

    Safe to call directly (tests, management commands); the ASGI ticker
    calls it once per tick across all processes.
    """
    now = now or timezone.now()
    seq = seq if seq is not None else int(time.time() // settings.MAP_PUBLISH_TICK_S)
    r = get_redis()
    fresh_after = location_fresh_after(now)
    stale = r.zrangebyscore(map_live_key(), "-inf", fresh_after.timestamp())
    if stale:
        r.zrem(map_live_key(), *stale)
    dirty = r.spop(map_dirty_key(), 100_000) or []
    ids = sorted(set(dirty) | set(stale))
    if not ids:
        return {"users": 0, "published": 0, "stale": 0}

    try:
        messages, still_live, count = _tick_apply(ids, now, fresh_after, seq)
    except Exception:
        # Nothing was published: queue everyone again for the next tick.
        r.sadd(map_dirty_key(), *ids)
        raise
    if still_live:
        r.zadd(map_live_key(), still_live)
    published_at = time.time()
    changes = []
    for groups, message in messages:
        message["published_at"] = published_at
        changes.append({**message, "tiles": groups})
    # One Redis message per tick for every server process (geo.live): each decodes it once and
    # hands each change to its local subscriptions of the change's tiles (bench: fan-out).
    if changes:
        payload = {"seq": seq, "published_at": published_at, "changes": changes}
        get_redis().publish(map_changes_channel(), json.dumps(payload, separators=(",", ":")))
    return {"users": count, "published": sum(len(groups) for groups, _ in messages), "stale": len(stale)}


def _tick_apply(
    ids: list[str], now, fresh_after, seq: int
) -> tuple[list[tuple[list[str], dict]], dict[str, float], int]:
    """Lock and update the published cells of ``ids``; return the messages to send after commit."""
    messages: list[tuple[list[str], dict]] = []
    still_live: dict[str, float] = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_SELECT, [ids])
            rows = cursor.fetchall()
        upd_ids, upd_cells, upd_lats, upd_lngs = [], [], [], []
        for uid, active, roles, sharing, visible_roles, cell, public_cell, recorded_at, visibility in rows:
            visible = bool(active and sharing and cell and recorded_at and recorded_at > fresh_after)
            new_cell = cell if visible else ""
            old_cell = public_cell or ""
            if new_cell != old_cell:
                lat, lng = cell_centre(new_cell) if new_cell else (0.0, 0.0)
                upd_ids.append(uid)
                upd_cells.append(new_cell)
                upd_lats.append(lat)
                upd_lngs.append(lng)
            groups: set[str] = set()
            for c in {old_cell, new_cell} - {""}:
                groups.update(tiles_for_point(*cell_centre(c)))
            if not groups:
                continue
            if visible:
                still_live[str(uid)] = recorded_at.timestamp()
            lat, lng = cell_centre(new_cell) if new_cell else (None, None)
            message = {
                "type": "map.cell",
                "seq": seq,
                "user_id": str(uid),
                "visible": visible,
                "lat": lat,
                "lng": lng,
                "roles": list(roles or []),
                "visible_roles": list(visible_roles or []),
                "recorded_at": recorded_at.timestamp() if recorded_at else None,
                "contacts_only": visibility == Visibility.CONTACTS,
            }
            messages.append((sorted(groups), message))
        if upd_ids:
            with connection.cursor() as cursor:
                cursor.execute(_UPDATE, [now, upd_ids, upd_cells, upd_lats, upd_lngs])
    return messages, still_live, len(rows)


def _tick_claim(seq: int) -> bool:
    return bool(
        get_redis().set(key("map", "tick", seq), "1", nx=True, ex=max(30, int(settings.MAP_PUBLISH_TICK_S * 4)))
    )


async def map_ticker() -> None:
    """Run :func:`map_publish_tick` at every wall-clock multiple of ``MAP_PUBLISH_TICK_S``, forever."""
    tick = float(settings.MAP_PUBLISH_TICK_S)
    while True:
        await asyncio.sleep(tick - (time.time() % tick))
        seq = int(round(time.time() / tick))
        try:
            if await database_sync_to_async(_tick_claim)(seq):
                await database_sync_to_async(map_publish_tick)(seq=seq)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("map tick %s failed", seq)
