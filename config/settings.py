"""Rendezvous settings, read from the environment with django-environ.

Every variable is listed and explained in ``.env.example``. The defaults work
on a developer machine with no ``.env`` at all (``DJANGO_DEBUG`` defaults to
true, PostgreSQL and Redis on localhost). Production sets ``DJANGO_DEBUG=false``
and must then provide ``DJANGO_SECRET_KEY``: secrets have no production default.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY (at least 50 characters) is required when DJANGO_DEBUG is false.")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "config.apps.ConfigAppConfig",
    "accounts",
    "geo",
]

MIDDLEWARE = [
    "config.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgis://rendezvous:rendezvous@127.0.0.1:5432/rendezvous"),
}
# Django's native psycopg pool (Django >= 5.1): connections are reused across the
# threads ASGI and database_sync_to_async run sync code in, instead of one new
# PostgreSQL connection per request or socket event. DB_POOL_MAX_SIZE per process.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
    "max_size": env.int("DB_POOL_MAX_SIZE", default=32),
    "timeout": env.int("DB_POOL_TIMEOUT_S", default=10),
}
DATABASES["default"].setdefault("TEST", {})["NAME"] = env("TEST_DATABASE_NAME", default="test_rendezvous")

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=1000)
# Prefix for every Redis key this project writes (presence, map state, rate limits).
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="rdv")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
    }
}

# RedisPubSubChannelLayer: measured 4-6x faster group delivery than RedisChannelLayer
# on this class of machine. The pool is sized explicitly: redis-py's async pool
# fails at once when exhausted, which broke group_add for 100 simultaneous connects.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
            "prefix": f"{REDIS_KEY_PREFIX}:ws",
        },
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "geo-location-history-prune": {
        "task": "geo.tasks.location_history_prune_task",
        "schedule": 3600.0,
    },
}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- request limits -------------------------------------------------------------
# JSON/form bodies above REQUEST_MAX_BODY_BYTES and multipart uploads above
# UPLOAD_MAX_BYTES (+ 64 KiB of form overhead) are refused with 413.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=1024 * 1024)
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES

# --- REST ----------------------------------------------------------------------
THROTTLE_LOGIN = env("THROTTLE_LOGIN", default="10/min")
THROTTLE_REGISTER = env("THROTTLE_REGISTER", default="20/hour")
THROTTLE_LOCATION = env("THROTTLE_LOCATION", default="120/min")
THROTTLE_USER = env("THROTTLE_USER", default="1000/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": THROTTLE_USER,
        "login": THROTTLE_LOGIN,
        "login_account": THROTTLE_LOGIN,
        "register": THROTTLE_REGISTER,
    },
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    # Throttles identify clients by REMOTE_ADDR, which uvicorn --proxy-headers
    # fills from trusted proxies only; a client's own X-Forwarded-For is ignored.
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
}

# --- location and map (units: seconds, metres) -----------------------------------
LOCATION_TTL_S = env.int("LOCATION_TTL_S", default=300)
LOCATION_MIN_INTERVAL_S = env.float("LOCATION_MIN_INTERVAL_S", default=1.0)
LOCATION_MAX_FUTURE_S = env.int("LOCATION_MAX_FUTURE_S", default=60)
LOCATION_HISTORY_RETENTION_DAYS = env.int("LOCATION_HISTORY_RETENTION_DAYS", default=30)
MAP_GRID_M = env.float("MAP_GRID_M", default=100.0)
MAP_PUBLISH_TICK_S = env.float("MAP_PUBLISH_TICK_S", default=2.0)
MAP_MAX_RADIUS_M = env.int("MAP_MAX_RADIUS_M", default=50_000)
MAP_DEFAULT_RADIUS_M = env.int("MAP_DEFAULT_RADIUS_M", default=1000)
MAP_MAX_RESULTS = env.int("MAP_MAX_RESULTS", default=200)
# Run the map publisher tick inside each ASGI server process (ticks coordinate
# through Redis, so several processes publish each change once).
MAP_TICKER_ENABLED = env.bool("MAP_TICKER_ENABLED", default=True)
PRESENCE_TTL_S = env.int("PRESENCE_TTL_S", default=60)
# Threads per server process for the sync (ORM, Redis) part of socket events;
# keep DB_POOL_MAX_SIZE at least this large.
ASGI_THREADS = env.int("ASGI_THREADS", default=32)
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=16 * 1024)

# --- demo data (manage.py seed_users) --------------------------------------------
# Every demo user (User.is_demo) logs in with this password; demo data is public, so is this.
DEMO_USER_PASSWORD = env("DEMO_USER_PASSWORD", default="rendezvous-demo-password")

# --- production hardening (manage.py check --deploy) -------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Debian 12 ships GDAL 3.6. Rendezvous never opens user-supplied GDAL datasets
# (points arrive as numbers; OSM data is read with an OSM library), so the
# GDAL >= 3.9 file/network blocking this check asks for does not apply.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
