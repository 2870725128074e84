"""The shared synchronous Redis client (presence, map state, rate limits).

One connection pool per process, sized by ``REDIS_MAX_CONNECTIONS``; every key
is prefixed with ``REDIS_KEY_PREFIX``.
"""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """Return the process-wide client (``decode_responses=True``: values are ``str``)."""
    pool = redis.BlockingConnectionPool.from_url(
        settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, timeout=5, decode_responses=True
    )
    return redis.Redis(connection_pool=pool)


def key(*parts: object) -> str:
    """Build a namespaced key, e.g. ``key("presence", user_id)`` -> ``rdv:presence:<id>``."""
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])
