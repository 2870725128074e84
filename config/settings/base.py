"""Rendezvous base settings (Django, database, Redis, Celery, static files, security).

Every variable is listed and explained in ``.env.example``. ``DJANGO_DEBUG``
defaults to false: development is opt-in (``DJANGO_DEBUG=true``). With DEBUG
off, ``DJANGO_SECRET_KEY`` (50+ characters) is required and has no default;
``scripts/setup.sh`` writes a random one into ``.env`` (mode 0600) on its
first run. With DEBUG on and no key, each process tree gets a random key
(exported to the environment, so servers started by it share it); no secret
is ever in the source. ``DJANGO_ENV_FILE`` names the env file read
(default ``<project>/.env``; empty: none).
"""

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
_ENV_FILE = os.environ.get("DJANGO_ENV_FILE", str(BASE_DIR / ".env"))
if _ENV_FILE:
    environ.Env.read_env(_ENV_FILE, overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if DEBUG and not SECRET_KEY:
    # Development without a key: random per process tree (children inherit it), never a published default.
    SECRET_KEY = os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
if not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY (at least 50 characters) is required when DJANGO_DEBUG is false. "
        "`make setup` writes a random one into .env; DJANGO_DEBUG=true is for development."
    )

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
    "core",
    "realtime",
    "accounts",
    "geo",
    "places",
    "messaging",
    "notifications",
    "walks",
    "devtools",
]

MIDDLEWARE = [
    "core.middleware.JsonErrorsMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
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

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "geo-location-history-prune": {
        "task": "geo.tasks.location_history_prune_task",
        "schedule": 3600.0,
    },
    "walks-walk-expire": {
        "task": "walks.tasks.walk_expire_task",
        "schedule": env.float("WALK_EXPIRE_SWEEP_S", default=60.0),
    },
    "walks-meet-now-expire": {
        "task": "walks.tasks.meet_now_expire_task",
        "schedule": env.float("MEET_NOW_EXPIRE_SWEEP_S", default=60.0),
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

# --- production hardening (manage.py check --deploy) -------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Plain-http local serving with DEBUG off (make run) sets these false in .env (scripts/setup.sh).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# 403 CSRF failures (the admin's forms) in the one error shape.
CSRF_FAILURE_VIEW = "core.middleware.csrf_failure"
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
#
# security.W021 (SECURE_HSTS_PRELOAD not set) is silenced deliberately: asking
# browsers to preload HSTS is a one-way commitment for the whole registrable
# domain and every subdomain, which only the operator can make
# (https://hstspreload.org); SECURE_HSTS_PRELOAD=true opts in (docs/security.md).
SILENCED_SYSTEM_CHECKS = ["gis.W001", "security.W021"]
