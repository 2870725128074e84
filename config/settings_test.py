"""Settings for the test suite: the real PostGIS and Redis, isolated key prefix, generous throttles.

Tests that check a throttle set its rate explicitly. Server processes started
by end-to-end tests use this module too (``DJANGO_SETTINGS_MODULE``).
"""

import os

os.environ.setdefault("REDIS_KEY_PREFIX", "rdvtest")
os.environ.setdefault("THROTTLE_LOGIN", "10000/min")
os.environ.setdefault("THROTTLE_REGISTER", "10000/min")
os.environ.setdefault("THROTTLE_USER", "100000/min")
os.environ.setdefault("THROTTLE_LOCATION", "100000/min")
os.environ.setdefault("LOCATION_MIN_INTERVAL_S", "0")
os.environ.setdefault("DJANGO_DEBUG", "true")

from .settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = os.environ.get("TEST_MEDIA_ROOT", "/tmp/rendezvous-test-media")  # noqa: S108
