"""WebSocket authentication with the same JWT access tokens as REST."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from .publish import run_sync

#: The subprotocol a browser offers, followed by its token, to authenticate without a query string:
#: ``new WebSocket(url, ["bearer", accessToken])``; the server accepts with subprotocol ``bearer``.
BEARER_SUBPROTOCOL = "bearer"


def token_from_scope(scope) -> tuple[str | None, str | None]:
    """``(raw token, subprotocol to accept)`` from the handshake, or ``(None, None)``.

    Looked up in order: ``Authorization: Bearer <t>`` (native clients),
    ``Sec-WebSocket-Protocol: bearer, <t>`` (browsers; answered with the
    ``bearer`` subprotocol), the ``token`` query parameter (kept for older
    clients; redacted from server logs by ``realtime.logging``).
    """
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0] in api_settings.AUTH_HEADER_TYPES:
                return parts[1], None
    protocols = [p.strip() for p in scope.get("subprotocols") or []]
    if len(protocols) >= 2 and protocols[0] == BEARER_SUBPROTOCOL:
        return protocols[1], BEARER_SUBPROTOCOL
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tokens = query.get("token")
    return (tokens[0] if tokens else None), None


def since_from_scope(scope) -> str | None:
    """The reconnect cursor from ``?since=<cursor>`` (``None`` when absent)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("since")
    return values[0] if values else None


@run_sync
def _user_for(raw: str):
    try:
        token = AccessToken(raw)
    except TokenError:
        return AnonymousUser(), None, None
    user_id = token.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return AnonymousUser(), None, None
    return user, token.get("exp"), token.get("fam") or token.get("jti")


class JWTAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` (``AnonymousUser`` for a missing or bad token), ``scope["token_exp"]`` (epoch s),
    ``scope["token_fam"]`` (the session family, ``accounts.tokens``), ``scope["ws_subprotocol"]``
    (the subprotocol to accept) and ``scope["sync_since"]``.
    """

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw, subprotocol = token_from_scope(scope)
        if raw:
            scope["user"], scope["token_exp"], scope["token_fam"] = await _user_for(raw)
        else:
            scope["user"], scope["token_exp"], scope["token_fam"] = AnonymousUser(), None, None
        scope["ws_subprotocol"] = subprotocol
        scope["sync_since"] = since_from_scope(scope)
        return await super().__call__(scope, receive, send)


class TokenSocketOriginValidator(OriginValidator):
    """Origin check for a bearer-token socket.

    Browsers send ``Origin``; it must match ``ALLOWED_HOSTS`` or
    ``CORS_ALLOWED_ORIGINS``. Native clients send none, which is allowed:
    the socket is authenticated by a token the client must present
    explicitly, never by an ambient cookie, so a missing Origin carries no
    cross-site risk.
    """

    def __init__(self, application):
        super().__init__(application, [*settings.ALLOWED_HOSTS, *settings.CORS_ALLOWED_ORIGINS])

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)
