"""End to end: real uvicorn processes, real HTTP and WebSocket clients, one Redis, the test PostGIS."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async

from accounts.models import User
from geo.grid import cell_for

from ..conftest import access_token
from ..factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HEL = (60.1699, 24.9384)


async def register(server, name: str) -> dict:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.post(
            "/api/auth/register",
            json={"email": f"{name}@example.test", "username": name, "password": PASSWORD, "full_name": name.title()},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        headers = {"Authorization": f"Bearer {body['access']}"}
        response = await http.patch("/api/settings", json={"location_sharing": True}, headers=headers)
        assert response.status_code == 200, response.text
        return body


async def recv_event(ws, event: str, timeout: float = 5.0) -> dict:
    async def loop():
        while True:
            frame = json.loads(await ws.recv())
            if frame["event"] == event:
                return frame

    return await asyncio.wait_for(loop(), timeout)


async def test_fix_sent_to_one_process_reaches_viewer_on_the_other(start_servers):
    server_a, server_b = await asyncio.to_thread(start_servers, 2)
    viewer = await register(server_a, "viewer")
    mover = await register(server_b, "mover")
    async with (
        websockets.connect(server_a.ws_url, additional_headers={"Authorization": f"Bearer {viewer['access']}"}) as v,
        websockets.connect(f"{server_b.ws_url}?token={mover['access']}") as m,
    ):
        await v.send(json.dumps({"event": "map:subscribe", "data": {"lat": HEL[0], "lng": HEL[1], "radius": 2000}}))
        snapshot = await recv_event(v, "map:snapshot")
        assert snapshot["data"]["count"] == 0
        await m.send(json.dumps({"event": "location:update", "data": {"lat": HEL[0], "lng": HEL[1]}, "id": "f1"}))
        ack = await recv_event(m, "ack")
        assert ack["id"] == "f1" and ack["data"]["stored"] is True
        frame = await recv_event(v, "user:location", timeout=5)
        cell = cell_for(*HEL)
        assert frame["data"]["user_id"] == mover["user"]["id"]
        assert (frame["data"]["lat"], frame["data"]["lng"]) == (round(cell.lat, 7), round(cell.lng, 7))
        # and over REST on either process, with online presence seen across processes
        async with httpx.AsyncClient(base_url=server_a.url) as http:
            response = await http.get(
                "/api/map_nodes",
                params={"lat": HEL[0], "lng": HEL[1], "radius": 2000},
                headers={"Authorization": f"Bearer {viewer['access']}"},
            )
        nodes = response.json()["results"]
        assert [n["user_id"] for n in nodes] == [mover["user"]["id"]]
        assert nodes[0]["online"] is True


async def test_handshake_refused_over_real_socket(start_servers):
    (server,) = await asyncio.to_thread(start_servers, 1)
    for url in (server.ws_url, f"{server.ws_url}?token=not-a-jwt"):
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with websockets.connect(url):
                pass
        assert info.value.response.status_code == 403


async def test_oversized_frame_closes_only_past_transport_limit(start_servers):
    (server,) = await asyncio.to_thread(start_servers, 1)
    user = await register(server, "big")
    async with websockets.connect(f"{server.ws_url}?token={user['access']}", max_size=2**20) as ws:
        await ws.send(json.dumps({"event": "location:update", "data": {"pad": "x" * 20_000}, "id": 1}))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["data"]["code"] == "frame_too_large"
        await ws.send(json.dumps({"event": "map:unsubscribe", "data": {}, "id": 2}))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame == {"event": "ack", "id": 2, "data": {"subscribed": False}}


def _make_users(n: int) -> list[str]:
    users = [User(email=f"crowd{i}@example.test", username=f"crowd{i}") for i in range(n)]
    for user in users:
        user.set_unusable_password()
    created = User.objects.bulk_create(users)
    from accounts.models import UserSettings

    UserSettings.objects.bulk_create([UserSettings(user=u) for u in created])
    return [access_token(u) for u in created]


async def test_200_simultaneous_socket_connects(start_servers):
    (server,) = await asyncio.to_thread(start_servers, 1)
    tokens = await database_sync_to_async(_make_users)(200)

    async def one(token: str, i: int):
        async with websockets.connect(f"{server.ws_url}?token={token}", open_timeout=30) as ws:
            await ws.send(json.dumps({"event": "map:subscribe", "data": {"lat": HEL[0], "lng": HEL[1], "radius": 500}}))
            await recv_event(ws, "map:snapshot", timeout=30)
            await ws.send(json.dumps({"event": "location:update", "data": {"lat": 60.1, "lng": 24.9}, "id": i}))
            ack = await recv_event(ws, "ack", timeout=30)
            return ack["id"] == i and ack["data"]["stored"]

    results = await asyncio.gather(*(one(t, i) for i, t in enumerate(tokens)), return_exceptions=True)
    failures = [r for r in results if r is not True]
    assert failures == []
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/health/redis")).status_code == 200
