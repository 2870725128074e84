"""Presence: a user is online while at least one of their sockets is connected.

Kept in Redis so every server process sees it: a sorted set per user whose
members are socket channel names scored by their last heartbeat (epoch
seconds). A socket counts while its score is younger than ``PRESENCE_TTL_S``,
so sockets of a crashed process expire on their own.
"""

from __future__ import annotations

import time

from django.conf import settings

from core.redis import get_redis, key


def _key(user_id) -> str:
    return key("presence", user_id)


def presence_touch(user_id, channel_name: str) -> None:
    """Mark socket ``channel_name`` of ``user_id`` alive now (connect and heartbeat)."""
    r = get_redis()
    k = _key(user_id)
    pipe = r.pipeline()
    pipe.zadd(k, {channel_name: time.time()})
    pipe.expire(k, settings.PRESENCE_TTL_S * 2)
    pipe.execute()


def presence_leave(user_id, channel_name: str) -> None:
    """Forget socket ``channel_name`` of ``user_id`` (disconnect)."""
    get_redis().zrem(_key(user_id), channel_name)


def presence_online_ids(user_ids) -> set:
    """The subset of ``user_ids`` with at least one live socket (one pipelined round trip)."""
    user_ids = list(user_ids)
    if not user_ids:
        return set()
    cutoff = time.time() - settings.PRESENCE_TTL_S
    pipe = get_redis().pipeline()
    for uid in user_ids:
        pipe.zcount(_key(uid), f"({cutoff}", "+inf")
    counts = pipe.execute()
    return {uid for uid, count in zip(user_ids, counts, strict=True) if count}
