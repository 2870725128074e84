"""Refresh-token families: issue, rotate once atomically, revoke a family on reuse.

Every refresh token carries a ``fam`` claim (a random hex id) fixed at login or
registration and copied on every rotation; access tokens minted from it carry
it too. A refresh token is usable once: rotation locks its ``OutstandingToken``
row (``SELECT ... FOR UPDATE``) and blacklists it in the same transaction, so
of N concurrent refreshes with one token exactly one succeeds. Presenting a
token that was already rotated is reuse (OAuth 2.0 Security BCP, refresh token
reuse detection): every outstanding refresh token of its family is
blacklisted, so a thief and the victim both lose that session and must log in
again. Tokens issued before families existed use their own ``jti`` as family.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

logger = logging.getLogger(__name__)

#: Name of the family claim in refresh and access tokens.
FAMILY_CLAIM = "fam"


class _UncheckedBlacklistRefreshToken(RefreshToken):
    """A refresh token verified for signature, expiry and type, but not against the blacklist.

    The blacklist is checked by :func:`refresh_rotate` under a row lock instead.
    """

    def check_blacklist(self) -> None:
        """No-op: :func:`refresh_rotate` checks the blacklist atomically."""


def _outstand(token: RefreshToken, user) -> None:
    OutstandingToken.objects.create(
        user=user,
        jti=token[jwt_settings.JTI_CLAIM],
        token=str(token),
        created_at=token.current_time,
        expires_at=datetime_from_epoch(token["exp"]),
    )


def token_pair_for(user, family: str | None = None) -> dict:
    """Issue a new refresh token (and its access token) for ``user`` in a new or given family.

    Returns ``{"access": str, "refresh": str}``; the refresh token is recorded
    as outstanding (so it can be blacklisted) with its ``fam`` claim.
    """
    refresh = RefreshToken()
    user_id = getattr(user, jwt_settings.USER_ID_FIELD)
    refresh[jwt_settings.USER_ID_CLAIM] = str(user_id) if not isinstance(user_id, int) else user_id
    refresh[FAMILY_CLAIM] = family or uuid.uuid4().hex
    _outstand(refresh, user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_family(payload: dict) -> str:
    """The family id of a decoded token payload: its ``fam`` claim, else its ``jti``."""
    return str(payload.get(FAMILY_CLAIM) or payload.get(jwt_settings.JTI_CLAIM))


def family_revoke(user_id, family: str) -> int:
    """Blacklist every outstanding, unexpired refresh token of ``family`` for ``user_id``.

    Returns how many tokens were newly blacklisted. Safe to run concurrently
    (``BlacklistedToken.token`` is unique; conflicts are ignored).
    """
    from rest_framework_simplejwt.state import token_backend

    rows = OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    ).only("id", "token", "jti")
    victims = []
    for row in rows:
        try:
            payload = token_backend.decode(row.token, verify=False)
        except TokenError:
            continue
        if token_family(payload) == family:
            victims.append(BlacklistedToken(token_id=row.id))
    BlacklistedToken.objects.bulk_create(victims, ignore_conflicts=True)
    return len(victims)


def refresh_rotate(raw: str) -> dict:
    """Rotate refresh token ``raw``: returns ``{"access", "refresh"}`` of the same family.

    Atomic and single-use: the presented token's outstanding row is locked
    and blacklisted in one transaction. Raises ``InvalidToken`` (401
    ``token_not_valid``) for a malformed, expired, wrongly typed or unknown
    token, for an inactive or deleted user, and for reuse of an already
    rotated or revoked token; reuse also revokes the token's whole family.
    """
    try:
        token = _UncheckedBlacklistRefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None
    jti = token[jwt_settings.JTI_CLAIM]
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    family = token_family(token.payload)
    user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
    if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
        raise InvalidToken("No active account found for the given token.")

    reused = False
    with transaction.atomic():
        row = OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=jti).first()
        if row is None:
            # Signed by us but never recorded (issued before the blacklist app): record it now.
            _outstand(token, user)
            row = OutstandingToken.objects.select_for_update(of=("self",)).get(jti=jti)
        if BlacklistedToken.objects.filter(token_id=row.id).exists():
            reused = True
            revoked = family_revoke(user.pk, family)
        else:
            BlacklistedToken.objects.create(token=row)
            pair = token_pair_for(user, family=family)
    if reused:
        logger.warning("Refresh token reuse for user %s: revoked %d token(s) of its family", user.pk, revoked)
        raise InvalidToken("Token is blacklisted")
    return pair
