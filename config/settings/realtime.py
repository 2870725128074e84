"""Realtime settings: the channel layer, socket limits, presence, the reconnect stream."""

from django.core.exceptions import ImproperlyConfigured

from .base import REDIS_KEY_PREFIX, REDIS_MAX_CONNECTIONS, REDIS_URL, env

# RedisPubSubChannelLayer: measured 4-6x faster group delivery than RedisChannelLayer
# on this class of machine. The pool is sized explicitly: redis-py's async pool
# fails at once when exhausted, which broke group_add for 100 simultaneous connects.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
            "prefix": f"{REDIS_KEY_PREFIX}:ws",
        },
    }
}


PRESENCE_TTL_S = env.int("PRESENCE_TTL_S", default=60)
# Threads per server process for the sync (ORM, Redis) part of socket events;
# keep DB_POOL_MAX_SIZE at least this large.
ASGI_THREADS = env.int("ASGI_THREADS", default=32)
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=16 * 1024)
# Sockets one user may hold open at once (all devices, all processes); more are refused at the handshake.
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=10)
# map:subscribe frames per socket per minute (each one recomputes the tile cover and a snapshot).
WS_MAP_SUBSCRIBE_RATE = env("WS_MAP_SUBSCRIBE_RATE", default="30/min")

# --- reconnect stream (realtime.stream): durable events kept per group for replay ---
REALTIME_STREAM_RETENTION_S = env.int("REALTIME_STREAM_RETENTION_S", default=24 * 3600)
REALTIME_STREAM_MAXLEN = env.int("REALTIME_STREAM_MAXLEN", default=1000)
# Threads per server process running HTTP requests (Django's WSGI handler behind a2wsgi, config.asgi).
HTTP_THREADS = env.int("HTTP_THREADS", default=16)
# Python's garbage collector in server processes (config.asgi, at lifespan startup): the objects
# of startup are frozen out of collections, and generation 0 is collected every GC_THRESHOLD[0]
# allocations instead of 700. With the defaults, full collections over 1 000 sockets' state paused
# the event loop 100-250 ms about every 4 s (city p95/p99 delivery; docs/bench.md, fifth pass).
# Empty: Python's defaults.
GC_THRESHOLD = [int(x) for x in env.list("GC_THRESHOLD", default=["50000", "20", "10"]) if str(x).strip()]
if len(GC_THRESHOLD) not in (0, 3):
    raise ImproperlyConfigured(f"GC_THRESHOLD takes three integers (gen0,gen1,gen2) or nothing, not {GC_THRESHOLD}")
