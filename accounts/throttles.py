"""Throttles for the anonymous auth endpoints (rates from ``THROTTLE_*`` settings).

Every throttle counts in Redis with one atomic step per request
(``core.ratelimit.RedisRateThrottle``), so parallel requests cannot overrun a
budget. Clients are identified by ``REMOTE_ADDR`` only, never by a
client-supplied ``X-Forwarded-For``: uvicorn puts the real client address
there only when the peer is a proxy listed in ``FORWARDED_ALLOW_IPS``.
The admin login (``/admin/login/``) spends the same two login budgets
(:func:`login_throttle_hit`).
"""

from __future__ import annotations

from core.ratelimit import RedisRateThrottle, client_ip, rate_limit_count


def login_email_ident(email) -> str | None:
    """The per-account bucket of a submitted email: stripped, lower-cased, at most 254 characters."""
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip().lower()[:254]


class LoginIPThrottle(RedisRateThrottle):
    """``THROTTLE_LOGIN`` login attempts per client IP (API and admin together)."""

    scope = "login"


class LoginAccountThrottle(RedisRateThrottle):
    """``THROTTLE_LOGIN`` login attempts per account (the submitted email, lower-cased; API and admin together)."""

    scope = "login_account"

    def throttle_ident(self, request, view) -> str | None:
        """The submitted ``email`` (see :func:`login_email_ident`); ``None`` when missing."""
        data = getattr(request, "data", None)
        return login_email_ident(data.get("email") if isinstance(data, dict) else None)


class RegisterIPThrottle(RedisRateThrottle):
    """``THROTTLE_REGISTER`` registrations per client IP."""

    scope = "register"


def login_throttle_hit(request, email) -> float | None:
    """Spend one login attempt of the client IP and of ``email``; the wait in seconds if refused, else ``None``.

    Used by the admin login so it shares the API login budgets
    (``THROTTLE_LOGIN`` per IP and per account).
    """
    waits = []
    ip_allowed, ip_wait = rate_limit_count(LoginIPThrottle.scope, client_ip(request), LoginIPThrottle().rate)
    if not ip_allowed:
        waits.append(ip_wait)
    ident = login_email_ident(email)
    if ident is not None:
        allowed, wait = rate_limit_count(LoginAccountThrottle.scope, ident, LoginAccountThrottle().rate)
        if not allowed:
            waits.append(wait)
    return max(waits) if waits else None
