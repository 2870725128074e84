"""Throttles for the anonymous auth endpoints (rates from ``THROTTLE_*`` settings).

Clients are identified by ``REMOTE_ADDR`` (``REST_FRAMEWORK["NUM_PROXIES"] = 0``),
never by a client-supplied ``X-Forwarded-For``: behind a proxy, uvicorn
``--proxy-headers`` already puts the real client address there.
"""

from rest_framework.throttling import SimpleRateThrottle


class LoginIPThrottle(SimpleRateThrottle):
    """``THROTTLE_LOGIN`` login attempts per client IP."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginAccountThrottle(SimpleRateThrottle):
    """``THROTTLE_LOGIN`` login attempts per account (the submitted email, lower-cased)."""

    scope = "login_account"

    def get_cache_key(self, request, view):
        email = request.data.get("email") if hasattr(request, "data") and isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email:
            return None
        return self.cache_format % {"scope": self.scope, "ident": email.strip().lower()[:254]}


class RegisterIPThrottle(SimpleRateThrottle):
    """``THROTTLE_REGISTER`` registrations per client IP."""

    scope = "register"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
