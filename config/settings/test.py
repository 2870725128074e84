"""Settings for the test suite: the real PostGIS and Redis (``DJANGO_SETTINGS_MODULE=config.settings.test``).

The environment defaults in ``test_env.py`` were applied by the package
before the topic modules read the environment.
"""

import os

from . import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = os.environ.get("TEST_MEDIA_ROOT", "/tmp/rendezvous-test-media")  # noqa: S108

# A test-only app declaring a room kind and a durable event (tests/roomapp), as a domain app would.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.roomapp"]  # noqa: F405
