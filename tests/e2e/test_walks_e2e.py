"""Over a real uvicorn process and real sockets: two users request, accept and start a walk and see each
other exactly; a third user on the map sees both snapped; after the end no exact position flows and the
walk's distance_m is the geodesic length of the track.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync
from django.db import connection
from django.utils import timezone

from tests.geo.geoutil import offset

from ..conftest import access_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HOME = (60.1699, 24.9384)


def _ws(server, user):
    return websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {access_token(user)}"})


async def _recv(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _until(ws, event: str, timeout: float = 10.0, where=lambda f: True) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        frame = await _recv(ws, max(0.05, deadline - asyncio.get_running_loop().time()))
        if frame["event"] == event and where(frame):
            return frame


async def _answer(ws, frame_id) -> dict:
    while True:
        frame = await _recv(ws)
        if frame.get("id") == frame_id and frame["event"] in ("ack", "error"):
            return frame


async def _quiet(ws, seconds: float) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(await _recv(ws, seconds))
    except TimeoutError:
        return frames


def _ts(seconds_ago: float) -> str:
    return (timezone.now() - timedelta(seconds=seconds_ago)).isoformat()


def _geodesic_length(points) -> float:
    wkt = "LINESTRING(" + ", ".join(f"{lng} {lat}" for lat, lng in points) + ")"
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_Length(ST_GeogFromText(%s))", [f"SRID=4326;{wkt}"])
        return float(cursor.fetchone()[0])


async def test_walk_over_real_sockets(start_servers, make_user):
    (server,) = await sync(start_servers)(1)
    mk = sync(make_user)
    alice = await mk(username="alice", sharing=True)
    bob = await mk(username="bob", sharing=True)
    carol = await mk(username="carol", sharing=True)
    headers = {u.username: {"Authorization": f"Bearer {access_token(u)}"} for u in (alice, bob, carol)}

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:

        async def fix(user, lat, lng, seconds_ago):
            r = await http.post(
                "/api/location",
                json={"lat": lat, "lng": lng, "timestamp": _ts(seconds_ago), "accuracy_m": 4},
                headers=headers[user.username],
            )
            assert r.status_code == 200 and r.json()["stored"], r.text

        await fix(alice, *offset(*HOME, north_m=10), 120)
        await fix(bob, *offset(*HOME, north_m=-30), 120)
        await fix(carol, *offset(*HOME, east_m=40), 120)
        await asyncio.sleep(1.5)  # map ticks publish the cells

        async with _ws(server, alice) as a, _ws(server, bob) as b, _ws(server, carol) as c:
            r = await http.post(
                "/api/walks/request", json={"partner_id": str(bob.pk), "message": "walk?"}, headers=headers["alice"]
            )
            assert r.status_code == 201, r.text
            walk_id = r.json()["id"]
            assert (await _until(b, "walk:requested"))["data"]["id"] == walk_id
            r = await http.put(f"/api/walks/{walk_id}/accept", headers=headers["bob"])
            assert r.status_code == 200 and r.json()["status"] == "accepted"
            assert (await _until(a, "walk:accepted"))["data"]["id"] == walk_id
            for ws in (a, b):
                await ws.send(
                    json.dumps({"event": "room:join", "id": "j", "data": {"kind": "walk", "key": str(walk_id)}})
                )
                assert (await _answer(ws, "j"))["event"] == "ack"
            await c.send(json.dumps({"event": "room:join", "id": "j", "data": {"kind": "walk", "key": str(walk_id)}}))
            assert (await _answer(c, "j"))["event"] == "error"
            r = await http.post(f"/api/walks/{walk_id}/start", headers=headers["alice"])
            assert r.json()["status"] == "in_progress"
            assert (await _until(b, "walk:started"))["data"]["id"] == walk_id

            # the track: alice walks 5 x 80 m north-east-ish; bob sends fewer fixes beside her
            track = [offset(*HOME, north_m=80 * i, east_m=15 * i) for i in range(6)]
            for i, (lat, lng) in enumerate(track):
                await fix(alice, lat, lng, 60 - 5 * i)
                frame = await _until(b, "walk:location", where=lambda f: f["data"]["user_id"] == str(alice.pk))
                assert (frame["data"]["lat"], frame["data"]["lng"]) == (lat, lng)  # exact
                if i % 2 == 0:
                    blat, blng = offset(lat, lng, east_m=4)
                    await fix(bob, blat, blng, 59 - 5 * i)
                    frame = await _until(a, "walk:location", where=lambda f: f["data"]["user_id"] == str(bob.pk))
                    assert (frame["data"]["lat"], frame["data"]["lng"]) == (blat, blng)
            assert not [f for f in await _quiet(c, 0.5) if f["event"] == "walk:location"]

            # carol on the map: both snapped to the grid
            await asyncio.sleep(1.5)
            r = await http.get(
                "/api/map_nodes", params={"lat": HOME[0], "lng": HOME[1], "radius": 3000}, headers=headers["carol"]
            )
            nodes = {n["user_id"]: n for n in r.json()["results"]}
            for walker in (alice, bob):
                node = nodes[str(walker.pk)]
                assert node["precision_m"] == 100.0
            assert (nodes[str(alice.pk)]["lat"], nodes[str(alice.pk)]["lng"]) != track[-1]
            # bob sees alice exactly on the map too (exact-position provider)
            r = await http.get(
                "/api/map_nodes", params={"lat": HOME[0], "lng": HOME[1], "radius": 3000}, headers=headers["bob"]
            )
            mine = {n["user_id"]: n for n in r.json()["results"]}[str(alice.pk)]
            assert (mine["lat"], mine["lng"]) == (round(track[-1][0], 7), round(track[-1][1], 7))

            r = await http.post(f"/api/walks/{walk_id}/end", headers=headers["bob"])
            assert r.status_code == 200 and r.json()["status"] == "completed", r.text
            ended = await _until(a, "walk:ended")
            assert ended["data"]["status"] == "completed"
            await _until(a, "room:left")
            await _until(b, "room:left")

            # no exact position flows any more
            await fix(alice, *offset(*HOME, north_m=600), 2)
            assert not [f for f in await _quiet(b, 1.5) if f["event"] == "walk:location"]
            await asyncio.sleep(1.0)
            r = await http.get(
                "/api/map_nodes", params={"lat": HOME[0], "lng": HOME[1], "radius": 3000}, headers=headers["bob"]
            )
            assert {n["user_id"]: n for n in r.json()["results"]}[str(alice.pk)]["precision_m"] == 100.0

            detail = (await http.get(f"/api/walks/{walk_id}", headers=headers["alice"])).json()
            expected = await sync(_geodesic_length)(track)
            assert abs(detail["distance_m"] - expected) < 0.1, (detail["distance_m"], expected)
            assert [[round(x, 7), round(y, 7)] for y, x in track] == detail["route"]["coordinates"]
            assert len(detail["route_data"]["coordinates"]) == len(track)
