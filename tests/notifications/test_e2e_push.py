"""Over real processes: notification_send queues on the broker, a real Celery worker pushes to the local receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from notifications.models import Device
from notifications.services import notification_send

from ..e2e.conftest import ROOT, child_database_url
from .conftest import vapid_pair
from .webpush_receiver import WebPushReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_worker_delivers_web_push(make_user):
    private, public = vapid_pair()
    queue = f"test-push-{uuid.uuid4().hex}"  # only this worker takes the task, whatever else shares the broker
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "PUSH_VAPID_PRIVATE_KEY": private,
        "PUSH_VAPID_PUBLIC_KEY": public,
        "PUSH_VAPID_SUBJECT": "mailto:e2e@rendezvous.invalid",
    }
    (ROOT / ".run").mkdir(exist_ok=True)
    log = open(ROOT / ".run" / "e2e-celery-push.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--concurrency", "1", "--pool", "solo"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    old_queue = settings.PUSH_TASK_QUEUE
    settings.PUSH_TASK_QUEUE = queue
    try:
        with WebPushReceiver() as receiver:
            user = make_user()
            sub = receiver.subscription("phone")
            Device.objects.create(
                user=user,
                kind="webpush",
                endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"],
                auth=sub["keys"]["auth"],
            )
            with transaction.atomic():
                item = notification_send(
                    user=user, type="walk_request", content="Walk at 6?", related_kind="walk", related_id=3
                )
            deadline = time.monotonic() + 60
            while not receiver.received() and time.monotonic() < deadline:
                assert worker.poll() is None, "worker exited"
                time.sleep(0.2)
            (push,) = receiver.wait_for(1, timeout=1)
            assert push.json["id"] == item.pk and push.json["content"] == "Walk at 6?"
            assert f"k={public}" in push.header("Authorization")
    finally:
        settings.PUSH_TASK_QUEUE = old_queue
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
