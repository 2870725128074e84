"""REST authentication: simplejwt's ``JWTAuthentication`` with the user read by one prepared statement.

simplejwt validates the token (signature, expiry, type) exactly as before;
only :meth:`JWTAuthentication.get_user` is replaced. The stock lookup
(``User.objects.get``) builds and compiles an ORM query on every request:
21 % of the server's CPU for ``POST /api/location`` under ``wrk -c32``
(docs/bench.md, issue 8). Here the row is read with one fixed SQL statement
and turned into a ``User`` with ``Model.from_db``; the checks and their
error codes are simplejwt's (``user_not_found``, ``user_inactive``, and
``password_changed`` when ``CHECK_REVOKE_TOKEN`` is on).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

_SQL: dict[str, tuple] = {}


def _user_sql() -> tuple[str, list[str], list[tuple]]:
    """The statement, the field names and each column's converters (as the ORM's compiler applies them).

    ``SELECT <every concrete column> FROM <user table> WHERE <USER_ID_FIELD> = %s``;
    converters turn database values into field values (``role_since`` is
    JSON text until its field converts it).
    """
    cached = _SQL.get("user")
    if cached is None:
        model = get_user_model()
        fields = list(model._meta.concrete_fields)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        id_column = model._meta.get_field(api_settings.USER_ID_FIELD).column
        sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(id_column)} = %s"
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            funcs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if funcs:
                converters.append((i, col, funcs))
        cached = _SQL["user"] = (sql, [f.attname for f in fields], converters)
    return cached


class JWTAuthentication(authentication.JWTAuthentication):
    """``Authorization: Bearer <access token>``; the user is loaded with one fixed statement.

    Raises ``InvalidToken`` (401) for a token without the user id claim and
    ``AuthenticationFailed`` (401) for an unknown or inactive user or a
    revoked token, as simplejwt does.
    """

    def get_user(self, validated_token):
        """The active ``User`` of ``validated_token`` (its ``USER_ID_CLAIM``), read in one round trip."""
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        sql, attnames, converters = _user_sql()
        model = get_user_model()
        try:
            pk = model._meta.get_field(api_settings.USER_ID_FIELD).to_python(user_id)
        except Exception as exc:  # a malformed id in a validly signed token: no such user
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        values = list(row)
        for i, col, funcs in converters:
            for func in funcs:
                values[i] = func(values[i], col, connection)
        user = model.from_db(connection.alias, attnames, values)
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """OpenAPI: the same ``jwtAuth`` bearer scheme drf-spectacular gives simplejwt's class."""

    target_class = "accounts.authentication.JWTAuthentication"
