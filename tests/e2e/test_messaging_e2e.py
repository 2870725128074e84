"""Over real processes: A messages B while B is offline; B gets the Web Push, then the missed events on reconnect.

One uvicorn server, one Celery worker (its own queue) and the local Web Push
receiver (tests/notifications/webpush_receiver.py, real RFC 8291 decryption).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
import websockets
from django.conf import settings

from notifications.models import Device
from tests.notifications.conftest import vapid_pair
from tests.notifications.webpush_receiver import WebPushReceiver

from ..conftest import access_token
from .conftest import ROOT, child_database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _ws(server, user, query: str = ""):
    url = server.ws_url + (f"?{query}" if query else "")
    return websockets.connect(url, additional_headers={"Authorization": f"Bearer {access_token(user)}"})


async def _recv(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _until(ws, event: str, timeout: float = 10.0) -> tuple[dict, list[dict]]:
    seen = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        frame = await _recv(ws, max(0.05, deadline - asyncio.get_running_loop().time()))
        if frame["event"] == event:
            return frame, seen
        seen.append(frame)


async def _quiet(ws, seconds: float) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(await _recv(ws, seconds))
    except TimeoutError:
        return frames


def _worker(queue: str, env: dict):
    log = open(ROOT / ".run" / "e2e-messaging-celery.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--concurrency", "1", "--pool", "solo"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, log


async def test_offline_receiver_gets_push_then_missed_message_and_notification_once(start_servers, make_user):
    private, public = vapid_pair()
    queue = f"test-msg-push-{uuid.uuid4().hex}"
    push_env = {
        "PUSH_VAPID_PRIVATE_KEY": private,
        "PUSH_VAPID_PUBLIC_KEY": public,
        "PUSH_VAPID_SUBJECT": "mailto:e2e@rendezvous.invalid",
        "PUSH_TASK_QUEUE": queue,
    }
    (ROOT / ".run").mkdir(exist_ok=True)
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        **push_env,
    }
    worker, worker_log = _worker(queue, worker_env)
    (server,) = await asyncio.to_thread(start_servers, 1, **push_env)
    try:
        with WebPushReceiver() as receiver:
            alice = await asyncio.to_thread(make_user, username="alice", full_name="Alice")
            bob = await asyncio.to_thread(make_user, username="bob")
            sub = receiver.subscription("bob-phone")
            await asyncio.to_thread(
                Device.objects.create,
                user=bob,
                kind="webpush",
                endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"],
                auth=sub["keys"]["auth"],
            )
            http = httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {access_token(alice)}"})

            # 1. Bob online: the first DM arrives live (and no push: he has a socket).
            async with _ws(server, bob) as ws:
                r = await http.post("/api/messages", json={"receiver_id": str(bob.pk), "message": "first"})
                assert r.status_code == 201, r.text
                live, _ = await _until(ws, "message:new")
                assert live["data"]["body"] == "first"
                note, _ = await _until(ws, "notification")
                cursor = note["cursor"]
            # 2. Bob offline: the second DM is pushed.
            r = await http.post(
                "/api/messages",
                json={"receiver_id": str(bob.pk), "message": "while you were away", "client_msg_id": "k2"},
            )
            assert r.status_code == 201, r.text
            missed_id = r.json()["id"]
            deadline = time.monotonic() + 60
            while not receiver.received() and time.monotonic() < deadline:
                assert worker.poll() is None, "celery worker exited"
                await asyncio.sleep(0.2)
            (push,) = receiver.wait_for(1, timeout=1)
            assert push.name == "bob-phone" and push.json["type"] == "message"
            assert "while you were away" in push.json["content"]
            # 3. Bob reconnects with his cursor: the missed message:new and notification, once each, then live.
            async with _ws(server, bob, query=f"since={quote(cursor)}") as ws:
                _, replayed = await _until(ws, "sync:done")
                news = [f for f in replayed if f["event"] == "message:new"]
                notes = [f for f in replayed if f["event"] == "notification"]
                assert [f["data"]["id"] for f in news] == [missed_id]
                assert len(notes) == 1 and "while you were away" in notes[0]["data"]["content"]
                extra = await _quiet(ws, 1.0)
                assert [f for f in extra if f["event"] in ("message:new", "notification")] == []
            await http.aclose()
            assert len(receiver.received()) == 1  # the first DM was not pushed
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        worker_log.close()
