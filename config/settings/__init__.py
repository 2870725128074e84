"""Rendezvous settings, split by topic and read from the environment (``.env.example`` lists every variable).

``DJANGO_SETTINGS_MODULE=config.settings`` (this package) for running the
project; ``config.settings.test`` for the test suite, whose environment
defaults (``config/settings/test_env.py``) are applied here, before any topic
module reads the environment.
"""

import os

if os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings.test":
    from .test_env import test_env_apply

    test_env_apply()

from .api import *  # noqa: E402, F403
from .base import *  # noqa: E402, F403
from .map import *  # noqa: E402, F403
from .messaging import *  # noqa: E402, F403
from .notifications import *  # noqa: E402, F403
from .realtime import *  # noqa: E402, F403
from .throttles import *  # noqa: E402, F403
from .walks import *  # noqa: E402, F403
