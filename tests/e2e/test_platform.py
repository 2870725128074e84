"""The realtime platform over real server processes: eviction across processes, reconnect, a Redis outage."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import websockets
from channels.db import database_sync_to_async

from tests.roomapp.realtime import member_add, member_remove

from ..conftest import access_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _ws(server, user, query: str = ""):
    url = server.ws_url + (f"?{query}" if query else "")
    return websockets.connect(url, additional_headers={"Authorization": f"Bearer {access_token(user)}"})


async def _recv(ws, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _until(ws, predicate, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = await _recv(ws, max(0.05, deadline - time.monotonic()))
        if predicate(frame):
            return frame


async def _request(ws, event: str, data: dict, frame_id) -> dict:
    await ws.send(json.dumps({"event": event, "data": data, "id": frame_id}))
    return await _until(ws, lambda f: f.get("id") == frame_id and f["event"] in ("ack", "error"))


async def _quiet(ws, seconds: float) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(await _recv(ws, seconds))
    except TimeoutError:
        return frames


async def test_removed_member_on_another_process_hears_nothing_after_the_removal(start_servers, make_user):
    server_a, server_b = await asyncio.to_thread(start_servers, 2)
    mk = database_sync_to_async(make_user)
    leaving, staying = await mk(username="leaving"), await mk(username="staying")
    key = uuid.uuid4().hex
    member_add(key, leaving.pk)
    member_add(key, staying.pk)
    async with _ws(server_a, leaving) as a, _ws(server_b, staying) as b:
        for ws in (a, b):
            assert (await _request(ws, "room:join", {"kind": "testroom", "key": key}, "j"))["event"] == "ack"
        await database_sync_to_async(member_remove)(key, leaving.pk)
        left = await _until(a, lambda f: f["event"] == "room:left")
        assert left["data"] == {"kind": "testroom", "key": key, "reason": "removed"}
        assert (await _request(b, "testroom:note", {"key": key, "n": 1}, "n"))["event"] == "ack"
        note = await _until(b, lambda f: f["event"] == "test:note")  # positive control, process B
        assert note["data"]["n"] == 1
        assert [f for f in await _quiet(a, 0.8) if f["event"] == "test:note"] == []
        answer = await _request(a, "room:join", {"kind": "testroom", "key": key}, "again")
        assert answer["event"] == "error" and answer["data"]["code"] == "forbidden"


async def test_reconnect_after_30_s_gets_exactly_the_50_missed_events_across_3_groups(start_servers, make_user):
    server_a, server_b = await asyncio.to_thread(start_servers, 2)
    mk = database_sync_to_async(make_user)
    reader, writer = await mk(username="reader"), await mk(username="writer")
    keys = [uuid.uuid4().hex, uuid.uuid4().hex]
    for k in keys:
        member_add(k, reader.pk)
        member_add(k, writer.pk)
    async with _ws(server_a, reader) as r:
        cursor = None
        for k in keys:
            ack = await _request(r, "room:join", {"kind": "testroom", "key": k}, k)
            cursor = ack["data"]["cursor"]
    sent: dict[str, list[int]] = {f"testroom.{keys[0]}": [], f"testroom.{keys[1]}": [], f"user.{reader.pk}": []}
    async with _ws(server_b, writer) as w:
        for k in keys:
            await _request(w, "room:join", {"kind": "testroom", "key": k}, k)
        for n in range(50):
            target = n % 3
            if target < 2:
                await _request(w, "testroom:note", {"key": keys[target], "n": n}, f"n{n}")
                sent[f"testroom.{keys[target]}"].append(n)
            else:
                await _request(w, "testroom:note", {"user_id": str(reader.pk), "n": n}, f"n{n}")
                sent[f"user.{reader.pk}"].append(n)
    await asyncio.sleep(30)  # offline for 30 s
    received: dict[str, list[int]] = {group: [] for group in sent}
    async with _ws(server_b, reader, query=f"since={cursor}") as r:  # the other process this time
        frames = await _quiet(r, 1.0)
        for k in keys:
            await r.send(json.dumps({"event": "room:join", "data": {"kind": "testroom", "key": k}, "id": k}))
            frames += await _quiet(r, 1.0)
        done = [f for f in frames if f["event"] == "sync:done"]
        assert len(done) == 3 and not [f for f in frames if f["event"] == "sync:reset"]
        notes = [f for f in frames if f["event"] == "test:note"]
        assert len(notes) == 50
        by_offset = {}
        for frame in notes:
            by_offset.setdefault(frame["offset"], []).append(frame)
        for frame in notes:
            n = frame["data"]["n"]
            group = next(g for g, ns in sent.items() if n in ns)
            received[group].append(n)
    assert received == sent  # every group in order, each event once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_start(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(  # noqa: S603
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_redis_outage_sockets_recover_and_a_stale_cursor_gets_sync_reset(start_servers, make_user):
    port = _free_port()
    redis = _redis_start(port)
    try:
        (server,) = await asyncio.to_thread(start_servers, 1, REDIS_URL=f"redis://127.0.0.1:{port}/0")
        mk = database_sync_to_async(make_user)
        reader, writer = await mk(username="reader2"), await mk(username="writer2")
        async with _ws(server, reader) as r, _ws(server, writer) as w:
            await _request(w, "testroom:note", {"user_id": str(reader.pk), "n": 1}, "n1")
            first = await _until(r, lambda f: f["event"] == "test:note")
            cursor = first["cursor"]
            redis.kill()
            redis.wait(timeout=5)
            await asyncio.sleep(3)  # Redis is down for a few seconds
            redis = _redis_start(port)  # back, empty (no persistence): its data set is new
        # Clients reconnect (with their cursor) once the server answers again.
        deadline = time.monotonic() + 30
        while True:
            try:
                async with _ws(server, reader, query=f"since={cursor}") as r, _ws(server, writer) as w:
                    frames = await _quiet(r, 1.0)
                    assert [f["event"] for f in frames if f["event"].startswith("sync:")] == ["sync:reset"]
                    await _request(w, "testroom:note", {"user_id": str(reader.pk), "n": 2}, "n2")
                    live = await _until(r, lambda f: f["event"] == "test:note")
                    assert live["data"]["n"] == 2 and live["cursor"]
                    break
            except (OSError, websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        redis.kill()
        redis.wait(timeout=5)
