"""Socket of meet-now and meetups: meet:request live and on connect, the meetup room, meetup:update both ways."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync

from tests.geo.geoutil import offset
from tests.realtime.conftest import drain, recv_until, send, ws_connect
from walks import meet

from .conftest import HOME, block
from .test_socket import answer, fix

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


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


async def test_meet_request_live_and_resent_on_connect(people):
    alice, bob, carol = people
    b, _, _ = await ws_connect(bob)
    item = await sync(meet.meet_now_create)(user=alice, target_user_id=bob.pk, message="now?")
    frame, _ = await recv_until(b, "meet:request")
    assert frame["data"]["id"] == item.pk and frame["data"]["status"] == "pending" and frame["offset"]
    await b.disconnect()
    b, _, _ = await ws_connect(bob)
    frame, _ = await recv_until(b, "meet:request")
    assert frame["data"]["id"] == item.pk and frame["data"]["message"] == "now?" and "offset" not in frame
    c, _, _ = await ws_connect(carol)
    assert not [f for f in await drain(c) if f["event"] == "meet:request"]
    # once answered, nothing is re-sent
    await sync(meet.meet_now_decline)(user=bob, meet_id=item.pk)
    await b.disconnect()
    b, _, _ = await ws_connect(bob)
    assert not [f for f in await drain(b) if f["event"] == "meet:request"]
    for comm in (b, c):
        await comm.disconnect()


async def test_meetup_room_positions_and_statuses(people):
    alice, bob, carol = people
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    c, _, _ = await ws_connect(carol)
    item = await sync(meet.meet_now_create)(user=alice, target_user_id=bob.pk)
    item = await sync(meet.meet_now_accept)(user=bob, meet_id=item.pk)
    changed, _ = await recv_until(a, "meetup:changed")  # the meetup first, then the answered request
    assert changed["data"]["id"] == item.meetup_id and changed["data"]["status"] == "active"
    frame, _ = await recv_until(a, "meet:updated")
    assert frame["data"]["status"] == "accepted" and frame["data"]["meetup_id"] == item.meetup_id
    key = str(item.meetup_id)
    await send(c, "room:join", {"kind": "meetup", "key": key}, frame_id="x")
    assert (await answer(c, "x"))[0]["data"]["code"] in ("not_found", "forbidden")
    await send(c, "meetup:update", {"meetup_id": item.meetup_id, "status": "arrived"}, frame_id="y")
    assert (await answer(c, "y"))[0]["data"]["code"] == "not_found"
    for comm in (a, b):
        await send(comm, "room:join", {"kind": "meetup", "key": key}, frame_id="j")
        ack, seen = await answer(comm, "j")
        assert ack["event"] == "ack", ack
        state = next(f for f in seen if f["event"] == "room:state")["data"]["state"]
        assert {p["user_id"] for p in state["positions"]} == {str(alice.pk), str(bob.pk)}
    # client -> server status, seen by both
    await send(b, "meetup_update", {"meetupId": item.meetup_id, "status": "on_my_way"}, frame_id=1)
    ack, _ = await answer(b, 1)
    assert ack["event"] == "ack" and ack["data"]["status"] == "on_my_way"
    frame, _ = await recv_until(a, "meetup:update")
    assert frame["data"] == {**frame["data"], "type": "status", "status": "on_my_way", "user_id": str(bob.pk)}
    # exact fixes flow in the room
    await drain(b)  # bob's own status came back to him too
    lat, lng = offset(*HOME, north_m=3.3, east_m=1.7)
    await sync(fix)(alice, lat, lng, 100)
    frame, _ = await recv_until(b, "meetup:update")
    assert frame["data"]["type"] == "position" and frame["data"]["lat"] == lat and frame["data"]["lng"] == lng
    assert not [f for f in await drain(c) if f["event"] == "meetup:update"]
    # leave: alice is evicted, no more of bob's fixes reach her
    await sync(meet.meetup_leave)(user=alice, meetup_id=item.meetup_id)
    assert (await recv_until(a, "room:left"))[0]["data"]["reason"] == "left"
    await drain(a)
    await sync(fix)(bob, *offset(*HOME, north_m=5), 90)
    assert not [f for f in await drain(a) if f["event"] == "meetup:update"]
    for comm in (a, b, c):
        await comm.disconnect()


async def test_meetup_update_bad_input_and_block(people):
    alice, bob, _ = people
    item = await sync(meet.meet_now_create)(user=alice, target_user_id=bob.pk)
    item = await sync(meet.meet_now_accept)(user=bob, meet_id=item.pk)
    a, _, _ = await ws_connect(alice)
    for data in (
        {},
        {"meetup_id": item.meetup_id},
        {"meetup_id": "x", "status": "arrived"},
        {"meetup_id": item.meetup_id, "status": "dancing"},
    ):
        await send(a, "meetup:update", data, frame_id="b")
        assert (await answer(a, "b"))[0]["data"]["code"] == "invalid"
    await send(a, "room:join", {"kind": "meetup", "key": str(item.meetup_id)}, frame_id="j")
    assert (await answer(a, "j"))[0]["event"] == "ack"

    def blocked():
        from core.signals import block_created

        block(bob, alice)
        block_created.send(sender=None, blocker_id=bob.pk, blocked_id=alice.pk)

    await sync(blocked)()
    assert (await recv_until(a, "room:left"))[0]["data"]["reason"] == "blocked"
    await send(a, "meetup:update", {"meetup_id": item.meetup_id, "status": "arrived"}, frame_id="z")
    assert (await answer(a, "z"))[0]["data"]["code"] == "invalid_transition"
    await a.disconnect()


async def test_introduction_events(people):
    alice, bob, carol = people  # alice asks carol (via) to introduce her to bob

    def contacts():
        from walks.models import Walk

        Walk.objects.create(initiator=alice, partner=carol, status="completed")
        Walk.objects.create(initiator=bob, partner=carol, status="completed")

    await sync(contacts)()
    from walks import introductions

    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    c, _, _ = await ws_connect(carol)
    item = await sync(introductions.introduction_request)(user=alice, target_user_id=bob.pk, via_user_id=carol.pk)
    frame, _ = await recv_until(c, "introduction:request")
    assert frame["data"]["id"] == item.pk and frame["offset"]
    assert (await recv_until(a, "introduction:updated"))[0]["data"]["status"] == "pending"
    assert not [f for f in await drain(b) if f["event"].startswith("introduction")]
    await sync(introductions.introduction_forward)(user=carol, intro_id=item.pk)
    frame, _ = await recv_until(b, "introduction:request")
    assert frame["data"]["status"] == "forwarded"
    await sync(introductions.introduction_accept)(user=bob, intro_id=item.pk)
    for comm in (a, b, c):
        frame, _ = await recv_until(comm, "introduction:updated")
        while frame["data"]["status"] != "accepted":
            frame, _ = await recv_until(comm, "introduction:updated")
        assert "lat" not in frame["data"]
    for comm in (a, b, c):
        await comm.disconnect()
