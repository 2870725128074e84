"""A fixed-window rate limiter in Redis, shared by HTTP and WebSocket paths."""

import time

from .errors import RateLimited
from .redis import get_redis, key

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """Parse a DRF-style rate ``"120/min"`` into ``(requests, period seconds)``.

    Raises ``ValueError`` on a malformed rate.
    """
    num, _, period = rate.partition("/")
    if not period or period[0] not in _PERIODS:
        raise ValueError(f"bad rate {rate!r}")
    return int(num), _PERIODS[period[0]]


def rate_limit_hit(scope: str, ident: str, rate: str) -> None:
    """Count one hit for ``ident`` in ``scope``; raise :class:`RateLimited` past ``rate``.

    The window is fixed and aligned to the period; ``retry_after`` is the
    seconds left in the current window.
    """
    limit, period = rate_parse(rate)
    now = time.time()
    window = int(now // period)
    k = key("rl", scope, ident, window)
    r = get_redis()
    pipe = r.pipeline(transaction=False)
    pipe.incr(k)
    pipe.expire(k, period + 1)
    count, _ = pipe.execute()
    if count > limit:
        raise RateLimited(
            f"Rate limit of {rate} exceeded.",
            retry_after=period - (now % period),
        )
