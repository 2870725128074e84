"""``config.asgi.gc_tune``: server processes freeze their startup objects and apply ``GC_THRESHOLD``."""

from __future__ import annotations

import gc

import pytest


@pytest.fixture
def gc_restored():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_startup_objects_are_frozen_and_thresholds_applied(settings, gc_restored):
    from config.asgi import gc_tune

    gc.unfreeze()
    settings.GC_THRESHOLD = [40000, 15, 12]
    gc_tune()
    assert gc.get_threshold() == (40000, 15, 12)
    assert gc.get_freeze_count() > 10_000  # Django and the app registry, at least


def test_empty_setting_keeps_pythons_collector(settings, gc_restored):
    from config.asgi import gc_tune

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    settings.GC_THRESHOLD = []
    gc_tune()
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_lifespan_startup_tunes_the_collector(settings, gc_restored):
    import asyncio

    from config.asgi import application

    gc.unfreeze()
    settings.GC_THRESHOLD = [30000, 20, 10]
    settings.MAP_TICKER_ENABLED = False
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(application({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert gc.get_threshold() == (30000, 20, 10)
    assert gc.get_freeze_count() > 0


def test_a_malformed_threshold_is_refused_at_startup():
    import os
    import subprocess
    import sys

    env = {**os.environ, "GC_THRESHOLD": "1000,5", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import django; django.setup()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "GC_THRESHOLD takes three integers" in done.stderr
