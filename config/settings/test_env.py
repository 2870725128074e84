"""Environment defaults of the test suite: isolated Redis key prefix, generous throttles, no coalescing.

Tests that check a throttle set its rate explicitly. Server processes started
by end-to-end tests use ``config.settings.test`` too. Values already in the
environment win.
"""

import os

TEST_ENV_DEFAULTS = {
    "REDIS_KEY_PREFIX": "rdvtest",
    "THROTTLE_LOGIN": "10000/min",
    "THROTTLE_REGISTER": "10000/min",
    "THROTTLE_USER": "100000/min",
    "THROTTLE_LOCATION": "100000/min",
    "LOCATION_MIN_INTERVAL_S": "0",
    "DJANGO_DEBUG": "true",
}


def test_env_apply() -> None:
    """``os.environ.setdefault`` every item of :data:`TEST_ENV_DEFAULTS`."""
    for name, value in TEST_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
