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


def token_from_scope(scope) -> str | None:
    """The raw token from ``Authorization: Bearer <t>`` or the ``token`` query parameter."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0] in api_settings.AUTH_HEADER_TYPES:
                return parts[1]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tokens = query.get("token")
    return tokens[0] if tokens else None


@run_sync
def _user_for(raw: str):
    try:
        token = AccessToken(raw)
    except TokenError:
        return AnonymousUser(), None
    user_id = token.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return AnonymousUser(), None
    return user, token.get("exp")


class JWTAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` (``AnonymousUser`` for a missing or bad token) and ``scope["token_exp"]`` (epoch s)."""

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw = token_from_scope(scope)
        if raw:
            scope["user"], scope["token_exp"] = await _user_for(raw)
        else:
            scope["user"], scope["token_exp"] = AnonymousUser(), None
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
