"""A fixed-window rate limiter in Redis, shared by HTTP (DRF throttles, admin login) and WebSocket paths.

Every hit is one atomic Redis step (a Lua ``INCR`` that sets the expiry on the
window's first hit), so N concurrent requests against a budget of L let
exactly L through, whatever the number of server processes. Windows are
aligned to the period (``"10/min"``: each UTC minute); a client can therefore
spend at most 2 x L across one window boundary.
"""

from __future__ import annotations

import time

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .redis import get_redis, key

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# KEYS[1]: the window's counter; ARGV[1]: its expiry (s). Returns the count after this hit.
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_hit_script = None


def rate_parse(rate: str) -> tuple[int, int]:
    """Parse a DRF-style rate ``"120/min"`` into ``(requests, period seconds)``.

    Raises ``ValueError`` on a malformed rate.
    """
    num, _, period = rate.partition("/")
    if not period or period[0] not in _PERIODS:
        raise ValueError(f"bad rate {rate!r}")
    return int(num), _PERIODS[period[0]]


def rate_limit_count(scope: str, ident: str, rate: str) -> tuple[bool, float]:
    """Count one hit for ``ident`` in ``scope`` atomically; return ``(allowed, retry_after seconds)``.

    ``allowed`` is false once the window's count is over the limit of
    ``rate``; ``retry_after`` is the time left in the current window (0 < x
    <= period). Every hit counts, refused ones included. Raises
    ``redis.RedisError`` when Redis is down (503 upstream).
    """
    return rate_limit_count_many(scope, [ident], rate)[0]


def rate_limit_count_many(scope: str, idents: list[str], rate: str) -> list[tuple[bool, float]]:
    """Count one hit for each of ``idents`` (repeats count twice) in one Redis round trip.

    The batch form of :func:`rate_limit_count` (group commit of fixes): a
    pipeline of the same atomic Lua step, so the verdicts are exactly those
    of the hits sent one by one in this order. Returns ``(allowed,
    retry_after seconds)`` per ident. Raises ``redis.RedisError`` when Redis
    is down.
    """
    global _hit_script
    if not idents:
        return []
    limit, period = rate_parse(rate)
    now = time.time()
    window = int(now // period)
    r = get_redis()
    if _hit_script is None:
        _hit_script = r.register_script(_HIT_LUA)
    keys = [key("rl", scope, ident, window) for ident in idents]
    counts = _evalsha_many(r, keys, period + 1)
    retry_after = period - (now % period)
    return [(int(count) <= limit, retry_after) for count in counts]


def _evalsha_many(r, keys: list[str], expiry_s: int) -> list:
    """``EVALSHA`` of the hit script for each key, pipelined in one round trip.

    redis-py's pipelined ``Script`` asks ``SCRIPT EXISTS`` before every
    pipeline (an extra round trip per batch: 5 % of ``POST /api/location``'s
    CPU); here the script is loaded only when Redis answers ``NOSCRIPT``
    (after a restart or ``SCRIPT FLUSH``), and only the refused steps are
    sent again, so no hit is counted twice.
    """
    from redis.exceptions import NoScriptError

    results: list = [None] * len(keys)
    todo = list(range(len(keys)))
    for _ in range(2):
        pipe = r.pipeline(transaction=False)
        for i in todo:
            pipe.evalsha(_hit_script.sha, 1, keys[i], expiry_s)
        answers = pipe.execute(raise_on_error=False)
        missing = []
        for i, answer in zip(todo, answers, strict=True):
            if isinstance(answer, NoScriptError):
                missing.append(i)
            elif isinstance(answer, Exception):
                raise answer
            else:
                results[i] = answer
        if not missing:
            return results
        r.script_load(_HIT_LUA)
        todo = missing
    raise NoScriptError("the rate-limit script could not be loaded")


def rate_limit_hit(scope: str, ident: str, rate: str) -> None:
    """Count one hit for ``ident`` in ``scope``; raise :class:`RateLimited` past ``rate``.

    The window is fixed and aligned to the period; ``retry_after`` is the
    seconds left in the current window.
    """
    from .errors import RateLimited  # here: core.errors imports DRF views, whose settings import this module

    allowed, retry_after = rate_limit_count(scope, ident, rate)
    if not allowed:
        raise RateLimited(f"Rate limit of {rate} exceeded.", retry_after=retry_after)


def client_ip(request) -> str:
    """The client address of a Django or DRF request: ``REMOTE_ADDR`` only.

    Never a client-supplied ``X-Forwarded-For``: uvicorn rewrites
    ``REMOTE_ADDR`` from proxy headers only when the peer is listed in
    ``FORWARDED_ALLOW_IPS`` (docs/security.md).
    """
    return request.META.get("REMOTE_ADDR") or "unknown"


class RedisRateThrottle(BaseThrottle):
    """A DRF throttle counting in Redis through :func:`rate_limit_count` (one atomic step per request).

    Subclasses set ``scope`` (the key in ``DEFAULT_THROTTLE_RATES``) and
    implement :meth:`get_ident`-like :meth:`throttle_ident` returning the
    bucket (``None``: not throttled). ``rate`` may be set on the class (tests
    do) to override the setting.
    """

    scope: str = ""
    rate: str | None = None

    def __init__(self):
        if not getattr(self, "rate", None):
            self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self._wait = None

    def throttle_ident(self, request, view) -> str | None:
        """The bucket for this request (default: the client IP); ``None`` skips the throttle."""
        return client_ip(request)

    def allow_request(self, request, view) -> bool:
        """Count this request; false once its bucket is over ``rate`` in the current window."""
        if not self.rate:
            return True
        ident = self.throttle_ident(request, view)
        if ident is None:
            return True
        allowed, self._wait = rate_limit_count(self.scope, ident, self.rate)
        return allowed

    def wait(self) -> float | None:
        """Seconds until the current window ends (``Retry-After``), after a refusal."""
        return self._wait


class UserThrottle(RedisRateThrottle):
    """``THROTTLE_USER`` requests per authenticated user (per client IP for anonymous callers)."""

    scope = "user"

    def throttle_ident(self, request, view) -> str | None:
        """``u:<user id>`` when authenticated, else ``ip:<client ip>``."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"u:{user.pk}"
        return f"ip:{client_ip(request)}"
