"""REST: Django REST Framework, simplejwt, drf-spectacular."""

from datetime import timedelta

from .base import env
from .throttles import THROTTLE_LOCATION, THROTTLE_LOGIN, THROTTLE_REGISTER, THROTTLE_USER  # noqa: F401

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["core.ratelimit.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": THROTTLE_USER,
        "login": THROTTLE_LOGIN,
        "login_account": THROTTLE_LOGIN,
        "register": THROTTLE_REGISTER,
    },
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    # Every throttle counts atomically in Redis (core.ratelimit). Throttles identify
    # clients by REMOTE_ADDR, which uvicorn rewrites from X-Forwarded-For only for
    # peers in FORWARDED_ALLOW_IPS (none by default); DRF's own XFF parsing stays off.
    "NUM_PROXIES": 0,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TTL_S", default=900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_TTL_S", default=14 * 24 * 3600)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rendezvous API",
    "DESCRIPTION": "REST API of Rendezvous, the real-time social map. The WebSocket protocol is in docs/realtime.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Error responses on every operation, /health*, radius bounds (core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.errors_and_health_postprocess",
    ],
}
