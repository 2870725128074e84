"""Socket: walk:request/accept/decline, lifecycle events on user.<id>, the walk room, walk:location, eviction."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync

from core.validation import validated
from geo.serializers import LocationFixInputSerializer
from geo.services import location_record
from tests.geo.geoutil import offset
from tests.realtime.conftest import drain, recv, recv_until, send, ws_connect
from walks import services

from .conftest import HOME, block, ts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def answer(comm, frame_id, timeout=3.0):
    seen = []
    while True:
        frame = await recv(comm, timeout=timeout)
        if frame.get("id") == frame_id and frame["event"] in ("ack", "error"):
            return frame, seen
        seen.append(frame)


def fix(user, lat, lng, seconds_ago):
    return location_record(
        user=user, fix=validated(LocationFixInputSerializer, {"lat": lat, "lng": lng, "timestamp": ts(seconds_ago)})
    )


@pytest.fixture
async def people(transactional_db, make_user):
    def make():
        from geo.fanout import map_publish_tick

        users = [make_user(username=n, full_name=n.title(), sharing=True) for n in ("alice", "bob", "carol")]
        for i, u in enumerate(users):
            fix(u, *offset(*HOME, north_m=30 * i), 200)
        map_publish_tick()
        return users

    return await sync(make)()


async def test_request_accept_over_socket_and_live_locations(people):
    alice, bob, carol = people
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    c, _, _ = await ws_connect(carol)
    await send(a, "walk:request", {"partnerId": str(bob.pk), "message": "hi"}, frame_id=1)
    ack, _ = await answer(a, 1)
    assert ack["event"] == "ack" and ack["data"]["status"] == "requested", ack
    walk_id = ack["data"]["id"]
    frame, _ = await recv_until(b, "walk:requested")
    assert frame["data"]["id"] == walk_id and frame["offset"] and frame["cursor"]
    # carol cannot accept, join or see it
    await send(c, "walk:accept", {"walk_id": walk_id}, frame_id=2)
    assert (await answer(c, 2))[0]["data"]["code"] == "not_found"
    await send(c, "room:join", {"kind": "walk", "key": str(walk_id)}, frame_id=3)
    assert (await answer(c, 3))[0]["data"]["code"] in ("not_found", "forbidden")
    # bob cannot join before accepting
    await send(b, "room:join", {"kind": "walk", "key": str(walk_id)}, frame_id=4)
    assert (await answer(b, 4))[0]["data"]["code"] == "forbidden"
    await send(b, "walk:accept", {"walkId": walk_id}, frame_id=5)
    ack, _ = await answer(b, 5)
    assert ack["data"]["status"] == "accepted"
    assert (await recv_until(a, "walk:accepted"))[0]["data"]["id"] == walk_id
    for comm in (a, b):
        await send(comm, "room:join", {"kind": "walk", "key": str(walk_id)}, frame_id="j")
        ack, seen = await answer(comm, "j")
        assert ack["event"] == "ack", ack
        state = next(f for f in seen if f["event"] == "room:state")["data"]["state"]
        assert {p["user_id"] for p in state["positions"]} == {str(alice.pk), str(bob.pk)}
    lat, lng = offset(*HOME, north_m=7.3, east_m=2.1)
    await sync(fix)(alice, lat, lng, 100)
    frame, _ = await recv_until(b, "walk:location")
    assert frame["data"]["user_id"] == str(alice.pk) and frame["data"]["lat"] == lat and frame["data"]["lng"] == lng
    assert not [f for f in await drain(c) if f["event"] == "walk:location"]
    # start, end over REST services: walk:ended, room:left, then no more exact fixes
    await sync(services.walk_start)(user=alice, walk_id=walk_id)
    await sync(services.walk_end)(user=bob, walk_id=walk_id)
    assert (await recv_until(a, "walk:ended"))[0]["data"]["status"] == "completed"
    assert (await recv_until(a, "room:left"))[0]["data"]["reason"] == "ended"
    await drain(b)
    await sync(fix)(alice, *offset(*HOME, north_m=20), 90)
    assert not [f for f in await drain(b) if f["event"] == "walk:location"]
    for comm in (a, b, c):
        await comm.disconnect()


async def test_decline_over_socket_and_bad_input(people):
    alice, bob, _ = people
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    for data in ({}, {"partner_id": "x"}, {"partner_id": str(bob.pk), "meeting_point": {"lat": 100, "lng": 0}}):
        await send(a, "walk:request", data, frame_id="x")
        assert (await answer(a, "x"))[0]["data"]["code"] == "invalid"
    for data in ({}, {"walk_id": "abc"}, {"walk_id": 0}):
        await send(b, "walk:decline", data, frame_id="y")
        assert (await answer(b, "y"))[0]["data"]["code"] == "invalid"
    await send(a, "walk_request", {"partner_id": str(bob.pk)}, frame_id=1)
    walk_id = (await answer(a, 1))[0]["data"]["id"]
    await send(a, "walk:decline", {"walk_id": walk_id}, frame_id=2)
    assert (await answer(a, 2))[0]["data"]["code"] == "not_your_turn"
    await send(b, "walk:decline", {"walk_id": walk_id}, frame_id=3)
    assert (await answer(b, 3))[0]["data"]["status"] == "declined"
    assert (await recv_until(a, "walk:declined"))[0]["data"]["id"] == walk_id
    await send(b, "walk:accept", {"walk_id": walk_id}, frame_id=4)
    assert (await answer(b, 4))[0]["data"]["code"] == "invalid_transition"
    await a.disconnect()
    await b.disconnect()


async def test_blocked_request_over_socket_is_not_available(people):
    alice, bob, _ = people
    await sync(block)(bob, alice)
    a, _, _ = await ws_connect(alice)
    await send(a, "walk:request", {"partner_id": str(bob.pk)}, frame_id=1)
    assert (await answer(a, 1))[0]["data"]["code"] == "not_available"
    await a.disconnect()
