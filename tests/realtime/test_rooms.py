"""Rooms: joined only through the permission check, left at once when the membership ends."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from realtime.rooms import ROOM_KINDS
from tests.roomapp.realtime import member_add, member_remove, note_publish

from .conftest import answer_for, drain, recv, recv_until, send, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def pair(rt_db, make_user):
    mk = database_sync_to_async(make_user)
    return await mk(username="member"), await mk(username="stranger")


async def test_member_joins_gets_state_and_room_events(pair):
    member, _ = pair
    key = uuid.uuid4().hex
    member_add(key, member.pk)
    comm, ok, _ = await ws_connect(member)
    assert ok
    await send(comm, "room:join", {"kind": "testroom", "key": key}, frame_id=1)
    state = await recv(comm)
    assert state == {"event": "room:state", "data": {"kind": "testroom", "key": key, "state": {"members": 1}}}
    ack = await recv(comm)
    assert ack["event"] == "ack" and ack["id"] == 1 and ack["data"].pop("cursor")
    assert ack["data"] == {"kind": "testroom", "key": key, "group": f"testroom.{key}"}
    await database_sync_to_async(note_publish)(key, 1, "hello")
    frame, _ = await recv_until(comm, "test:note")
    assert frame["data"] == {"n": 1, "text": "hello"}
    assert frame["offset"] and frame["cursor"]
    await comm.disconnect()


async def test_stranger_is_refused_and_hears_nothing(pair):
    member, stranger = pair
    key = uuid.uuid4().hex
    member_add(key, member.pk)
    m, _, _ = await ws_connect(member)
    s, _, _ = await ws_connect(stranger)
    await send(m, "room:join", {"kind": "testroom", "key": key}, frame_id="m")
    assert (await answer_for(m, "m"))["event"] == "ack"
    await send(s, "room:join", {"kind": "testroom", "key": key}, frame_id="s")
    answer = await answer_for(s, "s")
    assert answer["event"] == "error" and answer["data"]["code"] == "forbidden"
    await database_sync_to_async(note_publish)(key, 2)
    # Positive control: the member hears it; the stranger hears nothing.
    frame, _ = await recv_until(m, "test:note")
    assert frame["data"]["n"] == 2
    assert [f for f in await drain(s, 0.5) if f["event"] == "test:note"] == []
    await m.disconnect()
    await s.disconnect()


@pytest.mark.parametrize(
    "data, code",
    [
        ({"kind": "nope", "key": "1"}, "unknown_room_kind"),
        ({"kind": "testroom", "key": "../x"}, "invalid"),
        ({"kind": "testroom", "key": True}, "invalid"),
        ({"kind": "testroom", "key": "x" * 65}, "invalid"),
        ({"kind": "testroom"}, "invalid"),
        ({"kind": ["testroom"], "key": "1"}, "unknown_room_kind"),
        ({"kind": "user", "key": "1"}, "unknown_room_kind"),
        ({"kind": "cell", "key": "u33d"}, "unknown_room_kind"),
        ({"kind": "testroom", "key": "missing"}, "not_found"),
    ],
)
async def test_bad_join_input(pair, data, code):
    member, _ = pair
    comm, _, _ = await ws_connect(member)
    await send(comm, "room:join", data, frame_id="x")
    answer = await answer_for(comm, "x")
    assert answer["event"] == "error" and answer["data"]["code"] == code
    # The socket stays open and usable.
    await send(comm, "room:leave", {"kind": "testroom", "key": "abc"}, frame_id="y")
    assert (await answer_for(comm, "y"))["data"] == {"left": False}
    await comm.disconnect()


async def test_a_non_member_is_refused_by_every_room_kind(pair):
    _, stranger = pair
    comm, _, _ = await ws_connect(stranger)
    assert ROOM_KINDS, "no room kind declared"
    for kind in ROOM_KINDS:
        await send(comm, "room:join", {"kind": kind, "key": uuid.uuid4().hex[:16]}, frame_id=kind)
        answer = await answer_for(comm, kind)
        assert answer["event"] == "error" and answer["data"]["code"] in ("forbidden", "not_found"), kind
    await comm.disconnect()


async def test_removed_member_is_evicted_and_hears_nothing_after(pair):
    member, other = pair
    key = uuid.uuid4().hex
    member_add(key, member.pk)
    member_add(key, other.pk)
    a1, _, _ = await ws_connect(member)
    a2, _, _ = await ws_connect(member)  # a second device of the same user
    b, _, _ = await ws_connect(other)
    for comm in (a1, a2, b):
        await send(comm, "room:join", {"kind": "testroom", "key": key}, frame_id="j")
        assert (await answer_for(comm, "j"))["event"] == "ack"
    await database_sync_to_async(member_remove)(key, member.pk)
    for comm in (a1, a2):
        left, _ = await recv_until(comm, "room:left")
        assert left["data"] == {"kind": "testroom", "key": key, "reason": "removed"}
    await database_sync_to_async(note_publish)(key, 3)
    frame, _ = await recv_until(b, "test:note")  # positive control
    assert frame["data"]["n"] == 3
    for comm in (a1, a2):
        assert [f for f in await drain(comm, 0.5) if f["event"] == "test:note"] == []
    # Rejoining is refused now.
    await send(a1, "room:join", {"kind": "testroom", "key": key}, frame_id="again")
    assert (await answer_for(a1, "again"))["data"]["code"] == "forbidden"
    for comm in (a1, a2, b):
        await comm.disconnect()


async def test_leave_stops_room_events(pair):
    member, _ = pair
    key = uuid.uuid4().hex
    member_add(key, member.pk)
    comm, _, _ = await ws_connect(member)
    await send(comm, "room:join", {"kind": "testroom", "key": key}, frame_id="j")
    await answer_for(comm, "j")
    await send(comm, "room:leave", {"kind": "testroom", "key": key}, frame_id="l")
    assert (await answer_for(comm, "l"))["data"] == {"left": True}
    await database_sync_to_async(note_publish)(key, 4)
    assert [f for f in await drain(comm, 0.5) if f["event"] == "test:note"] == []
    await comm.disconnect()


async def test_presence_update_reaches_room_members(pair):
    member, other = pair
    key = uuid.uuid4().hex
    member_add(key, member.pk)
    member_add(key, other.pk)
    a, _, _ = await ws_connect(member)
    b, _, _ = await ws_connect(other)
    for comm in (a, b):
        await send(comm, "room:join", {"kind": "testroom", "key": key}, frame_id="j")
        await answer_for(comm, "j")
    await send(b, "presence:offline", {}, frame_id="off")
    assert (await answer_for(b, "off"))["data"] == {"status": "away"}
    update, _ = await recv_until(a, "presence:update")
    assert update["data"]["user_id"] == str(other.pk) and update["data"]["status"] == "away"
    assert update["data"]["last_seen"].endswith(":00+00:00")  # rounded down to the minute
    await b.disconnect()
    update, _ = await recv_until(a, "presence:update")
    assert update["data"] == {"user_id": str(other.pk), "status": "offline", "last_seen": update["data"]["last_seen"]}
    assert update["data"]["last_seen"].endswith(":00+00:00")
    await a.disconnect()
