"""Thin REST views for accounts; rules live in ``services``/``selectors``."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from core.errors import DomainError, Forbidden, error_response
from realtime.sessions import session_sockets_close

from . import selectors, services
from .serializers import (
    AuthResponseSerializer,
    BlockSerializer,
    LoginSerializer,
    RefreshInputSerializer,
    RegisterSerializer,
    SearchQuerySerializer,
    TokenPairSerializer,
    UserMeSerializer,
    UserPublicSerializer,
    UserSettingsSerializer,
)
from .throttles import LoginAccountThrottle, LoginIPThrottle, RegisterIPThrottle, login_throttle_hit
from .tokens import refresh_rotate, token_family, token_pair_for


def _tokens_for(user) -> dict:
    """A new ``{"access", "refresh"}`` pair for ``user``, opening a new refresh-token family."""
    return token_pair_for(user)


class RegisterView(APIView):
    """``POST /api/auth/register``: create an account and return tokens.

    Body ``{email, username, password, full_name?}``; 201 ``{"user", "access",
    "refresh"}``. Errors: 400 invalid input or weak password, 409 email or
    username taken, 429 over ``THROTTLE_REGISTER`` per IP.
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegisterIPThrottle]

    @extend_schema(request=RegisterSerializer, responses={201: AuthResponseSerializer})
    def post(self, request):
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        body = {"user": UserMeSerializer(user, context={"request": request}).data, **_tokens_for(user)}
        return Response(body, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    """``POST /api/auth/login``: exchange email and password for tokens.

    200 ``{"access", "refresh", "user"}`` (and ``last_login`` is recorded);
    401 ``invalid_credentials``; 429 over ``THROTTLE_LOGIN`` per IP or per
    account.
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginIPThrottle, LoginAccountThrottle]

    @extend_schema(request=LoginSerializer, responses={200: AuthResponseSerializer})
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request, email=data.validated_data["email"].lower(), password=data.validated_data["password"]
        )
        if user is None:
            # Not DRF's AuthenticationFailed: on a view without authenticators DRF turns it into a 403.
            raise DomainError("Wrong email or password.", code="invalid_credentials", status=401)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)
        body = {**_tokens_for(user), "user": UserMeSerializer(user, context={"request": request}).data}
        return Response(body)


class RefreshView(APIView):
    """``POST /api/auth/refresh``: rotate a refresh token, once (``accounts.tokens.refresh_rotate``).

    Body ``{refresh}``; 200 ``{"access", "refresh"}``. The old refresh token is
    blacklisted atomically, so of concurrent refreshes with one token exactly
    one succeeds. A used, blacklisted, expired or malformed token, or one
    whose user is inactive or deleted, is 401 ``token_not_valid``; reusing a
    rotated token also revokes every refresh token of its family.
    """

    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request):
        """``WWW-Authenticate`` for the 401s (without it DRF would turn them into 403)."""
        return 'Bearer realm="api"'

    @extend_schema(request=RefreshInputSerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(refresh_rotate(data.validated_data["refresh"]))


class LogoutView(APIView):
    """``POST /api/auth/logout``: blacklist a refresh token; 205, no body.

    Body ``{refresh}``. 400 without it, 401 if it is invalid or already
    blacklisted, 403 if the caller is authenticated as someone else.
    The sockets opened with access tokens of that session (same ``fam``)
    are closed (4403 ``session_ended``); REST access tokens stay valid until
    they expire (``JWT_ACCESS_TTL_S``).
    """

    permission_classes = [AllowAny]

    @extend_schema(request=RefreshInputSerializer, responses={205: OpenApiResponse(description="Logged out.")})
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token = RefreshToken(data.validated_data["refresh"])
        except TokenError as exc:
            raise InvalidToken(str(exc))
        if request.user.is_authenticated and str(token.get("user_id")) != str(request.user.pk):
            raise Forbidden("This refresh token belongs to another user.")
        token.blacklist()
        session_sockets_close(user_id=token.get("user_id"), family=token_family(token.payload))
        return Response(status=status.HTTP_205_RESET_CONTENT)


class AuthMeView(APIView):
    """``GET /api/auth/me``: the caller's profile."""

    @extend_schema(responses=UserMeSerializer)
    def get(self, request):
        return Response(UserMeSerializer(request.user, context={"request": request}).data)


class UsersMeView(APIView):
    """``GET/PUT/PATCH /api/users/me``: read or update the caller's profile.

    JSON or multipart (``profile_photo``: image, at most 5 MB, else 413).
    Unknown role slug 400, username taken 409.
    """

    @extend_schema(responses=UserMeSerializer)
    def get(self, request):
        return Response(UserMeSerializer(request.user, context={"request": request}).data)

    def _update(self, request, partial):
        data = UserMeSerializer(request.user, data=request.data, partial=partial, context={"request": request})
        data.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, data=dict(data.validated_data))
        return Response(UserMeSerializer(user, context={"request": request}).data)

    @extend_schema(request=UserMeSerializer, responses=UserMeSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=UserMeSerializer, responses=UserMeSerializer)
    def patch(self, request):
        return self._update(request, partial=True)


class SettingsView(APIView):
    """``GET/PUT/PATCH /api/settings`` and ``PUT/PATCH /api/users/preferences``.

    One resource: privacy (``location_sharing``, ``visible_roles``,
    ``filters.show_roles``) and matching preferences. Unknown role slugs 400.
    """

    @extend_schema(responses=UserSettingsSerializer)
    def get(self, request):
        return Response(UserSettingsSerializer(selectors.user_settings_get(request.user)).data)

    def _update(self, request, partial):
        row = selectors.user_settings_get(request.user)
        data = UserSettingsSerializer(row, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        row = services.user_settings_update(user=request.user, data=dict(data.validated_data))
        return Response(UserSettingsSerializer(row).data)

    @extend_schema(request=UserSettingsSerializer, responses=UserSettingsSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=UserSettingsSerializer, responses=UserSettingsSerializer)
    def patch(self, request):
        return self._update(request, partial=True)


class BlockView(APIView):
    """``POST/DELETE /api/users/{id}/block``.

    POST: 201 (new) or 200 (already blocked) with the block; 400 for
    oneself, 404 for an unknown user. DELETE: 204; 404 if not blocked.
    """

    @extend_schema(request=None, responses={200: BlockSerializer, 201: BlockSerializer})
    def post(self, request, user_id):
        block, created = services.block_create(blocker=request.user, blocked_id=user_id)
        return Response(BlockSerializer(block).data, status=201 if created else 200)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, user_id):
        services.block_delete(blocker=request.user, blocked_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockedListView(APIView):
    """``GET /api/users/blocked``: users the caller blocked, newest first (paginated)."""

    pagination_class = PageNumberPagination  # read by the schema generator: a page, not a bare array

    @extend_schema(parameters=[OpenApiParameter("page", int, required=False)], responses=BlockSerializer(many=True))
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.block_list(request.user), request, view=self)
        return paginator.get_paginated_response(BlockSerializer(page, many=True).data)


class SearchView(APIView):
    """``GET /api/search?query=&role=&page=``: profile search (seed 000).

    Matches name, username, bio and role slugs; excludes the caller, blocks
    both ways and users whose ``visible_roles`` exclude the caller. Paginated
    ``{"count","next","previous","results"}`` of public profiles; never a
    position. Unknown ``role`` 400; ``query`` under 2 characters without ``role`` 400.
    """

    pagination_class = PageNumberPagination  # read by the schema generator: a page, not a bare array

    @extend_schema(
        parameters=[
            OpenApiParameter("query", str, required=False),
            OpenApiParameter("role", str, required=False),
            OpenApiParameter("page", int, required=False),
        ],
        responses=UserPublicSerializer(many=True),
    )
    def get(self, request):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        role = params.validated_data["role"] or None
        if role:
            selectors.roles_validate([role], field="role")
        qs = selectors.user_search(request.user, query=params.validated_data["query"], role=role)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            UserPublicSerializer(page, many=True, context={"request": request}).data
        )


def admin_login(request, extra_context=None):
    """``/admin/login/``: Django's admin login behind the API login throttles.

    Each POST spends one attempt of ``THROTTLE_LOGIN`` per client IP and per
    submitted account (the form's ``username`` field holds the email), the
    same budgets as ``POST /api/auth/login``. Over budget: 429
    ``rate_limited`` in the error shape with ``Retry-After`` (seconds).
    """
    from django.contrib import admin

    if request.method == "POST":
        wait = login_throttle_hit(request, request.POST.get("username"))
        if wait is not None:
            response = error_response("rate_limited", "Too many login attempts; retry later.", 429)
            response["Retry-After"] = str(int(wait + 0.999))
            return response
    return admin.site.login(request, extra_context)
