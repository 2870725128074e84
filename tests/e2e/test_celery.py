"""A real Celery worker on the real Redis broker runs the history retention task against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from geo.models import LocationHistory
from geo.tasks import location_history_prune_task

from .conftest import ROOT, child_database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_worker_prunes_old_history(make_user):
    user = make_user(settings_fields={"keep_location_history": True})
    now = timezone.now()
    old = LocationHistory.objects.create(
        user=user, location="SRID=4326;POINT(24.94 60.17)", recorded_at=now - timedelta(days=400), received_at=now
    )
    recent = LocationHistory.objects.create(
        user=user, location="SRID=4326;POINT(24.94 60.17)", recorded_at=now - timedelta(days=1), received_at=now
    )
    queue = f"test-{uuid.uuid4().hex}"  # only this worker takes the task, whatever else shares the broker
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    (ROOT / ".run").mkdir(exist_ok=True)
    log = open(ROOT / ".run" / "e2e-celery.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--concurrency", "1", "--pool", "solo"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        location_history_prune_task.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and LocationHistory.objects.filter(pk=old.pk).exists():
            assert worker.poll() is None, "worker exited"
            time.sleep(0.25)
        assert not LocationHistory.objects.filter(pk=old.pk).exists()
        assert LocationHistory.objects.filter(pk=recent.pk).exists()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
