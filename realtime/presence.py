"""Presence: a user is online while at least one of their sockets is connected.

Kept in Redis so every server process sees it: a sorted set per user whose
members are socket channel names scored by their last heartbeat (epoch
seconds). A socket counts while its score is younger than ``PRESENCE_TTL_S``,
so sockets of a crashed process expire on their own. A user who sent
``presence:offline`` (seed 001: not available) is ``away`` while connected,
until ``presence:online``. ``last_seen`` is kept rounded down to the minute, like
``location_updated_at`` for strangers, so presence tells no more about
timing than the map does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.conf import settings

from core.redis import get_redis, key

#: Statuses of ``presence:update``.
ONLINE, AWAY, OFFLINE = "online", "away", "offline"

#: Atomically add one socket and count the live ones; refuse (remove it again) past the cap.
_TOUCH_CAPPED = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local existed = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
local n = redis.call('ZCARD', KEYS[1])
if (not existed) and n > tonumber(ARGV[4]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
return n
"""


def _key(user_id) -> str:
    return key("presence", user_id)


def _away_key(user_id) -> str:
    return key("presence", "away", user_id)


def _seen_key(user_id) -> str:
    return key("presence", "seen", user_id)


def presence_connect(user_id, channel_name: str, *, max_sockets: int) -> int:
    """Register socket ``channel_name`` of ``user_id``; returns the user's live socket count.

    Returns ``-1`` (and registers nothing) when the user already has
    ``max_sockets`` live sockets: one Lua step, so parallel connects never
    exceed the cap (``WS_MAX_SOCKETS_PER_USER``).
    """
    now = time.time()
    return int(
        get_redis().eval(
            _TOUCH_CAPPED,
            1,
            _key(user_id),
            channel_name,
            now,
            now - settings.PRESENCE_TTL_S,
            max_sockets,
            settings.PRESENCE_TTL_S * 2,
        )
    )


def presence_touch(user_id, channel_name: str) -> None:
    """Mark socket ``channel_name`` of ``user_id`` alive now: :func:`presence_touch_many` of one."""
    presence_touch_many([(user_id, channel_name)])


def presence_touch_many(entries, chunk: int = 1000) -> None:
    """Mark many sockets alive now: ``entries`` are ``(user_id, channel_name)``; one pipeline per ``chunk``.

    The heartbeat of all the sockets of a process (``realtime.heartbeat``).
    """
    r = get_redis()
    now = time.time()
    ttl = settings.PRESENCE_TTL_S * 2
    live_prefix = _key("")
    entries = list(entries)
    for start in range(0, len(entries), chunk):
        pipe = r.pipeline(transaction=False)
        for user_id, channel_name in entries[start : start + chunk]:
            k = live_prefix + str(user_id)
            pipe.zadd(k, {channel_name: now})
            pipe.expire(k, ttl)
        pipe.execute()


def presence_leave(user_id, channel_name: str) -> int:
    """Forget socket ``channel_name`` of ``user_id`` (disconnect); returns the live sockets left.

    Records ``last_seen`` (rounded down to the minute) when none is left.
    """
    r = get_redis()
    cutoff = time.time() - settings.PRESENCE_TTL_S
    pipe = r.pipeline()
    pipe.zrem(_key(user_id), channel_name)
    pipe.zcount(_key(user_id), f"({cutoff}", "+inf")
    _, left = pipe.execute()
    if not left:
        r.set(_seen_key(user_id), int(time.time() // 60 * 60), ex=30 * 86400)
    return int(left)


def presence_away_set(user_id, away: bool) -> None:
    """``presence:offline`` (``away=True``: connected but not available) / ``presence:online`` (available)."""
    r = get_redis()
    if away:
        r.set(_away_key(user_id), "1", ex=7 * 86400)
    else:
        r.delete(_away_key(user_id))


#: KEYS: (socket set, away flag) per user; ARGV[1]: the liveness cut-off (epoch s). 1 = online.
_ONLINE_LUA = """
local out = {}
for i = 1, #KEYS, 2 do
  local live = redis.call('ZCOUNT', KEYS[i], '(' .. ARGV[1], '+inf')
  local away = redis.call('EXISTS', KEYS[i + 1])
  out[#out + 1] = (live > 0 and away == 0) and 1 or 0
end
return out
"""
_online_script = None


def presence_online_ids(user_ids) -> set:
    """The subset of ``user_ids`` whose status is ``online`` (a live socket, not away); one Redis command.

    A Lua script checks every user inside Redis: for the 200 map nodes of a
    dense map, a pipeline of 400 commands cost ~4 ms of client CPU
    (docs/bench.md, issue 8).
    """
    global _online_script
    user_ids = list(user_ids)
    if not user_ids:
        return set()
    r = get_redis()
    if _online_script is None:
        _online_script = r.register_script(_ONLINE_LUA)
    live_prefix, away_prefix = _key(""), _away_key("")  # the keys of every user differ only in the id
    keys = []
    for uid in user_ids:
        uid = str(uid)
        keys += [live_prefix + uid, away_prefix + uid]
    flags = _online_script(keys=keys, args=[time.time() - settings.PRESENCE_TTL_S], client=r)
    return {uid for uid, flag in zip(user_ids, flags, strict=True) if flag}


def presence_get(user_id) -> dict:
    """``{"user_id", "status", "last_seen"}`` for one user.

    ``status``: ``online`` (a live socket), ``away`` (connected but sent
    ``presence:offline``) or ``offline``; ``last_seen``: ISO 8601 UTC,
    rounded down to the minute (now, rounded, while connected), or ``None``.
    """
    r = get_redis()
    cutoff = time.time() - settings.PRESENCE_TTL_S
    pipe = r.pipeline()
    pipe.zcount(_key(user_id), f"({cutoff}", "+inf")
    pipe.exists(_away_key(user_id))
    pipe.get(_seen_key(user_id))
    live, away, seen = pipe.execute()
    if live:
        status = AWAY if away else ONLINE
        seen = int(time.time() // 60 * 60)
    else:
        status = OFFLINE
    last_seen = datetime.fromtimestamp(int(seen), tz=UTC).isoformat() if seen else None
    return {"user_id": str(user_id), "status": status, "last_seen": last_seen}
