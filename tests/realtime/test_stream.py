"""Durable events and reconnect: offsets, one cursor per socket, exactly-once replay, sync:reset."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from core.redis import get_redis, key
from realtime import stream
from realtime.publish import publish, user_group
from tests.roomapp import events as room_events
from tests.roomapp.realtime import member_add, note_publish

from .conftest import answer_for, drain, recv_until, send, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def member(rt_db, make_user):
    return await database_sync_to_async(make_user)(username="m")


def note_to_user(user_id, n):
    publish(user_group(user_id), "test:note", room_events.note(n))


async def _notes(comm, count, timeout=10.0):
    got = []
    while len(got) < count:
        frame, _ = await recv_until(comm, "test:note", timeout=timeout)
        got.append(frame)
    return got


async def test_user_group_replay_exactly_once_after_reconnect(member):
    comm, _, _ = await ws_connect(member)
    await database_sync_to_async(note_to_user)(member.pk, 1)
    (first,) = await _notes(comm, 1)
    cursor = first["cursor"]
    await comm.disconnect()
    for n in range(2, 7):
        await database_sync_to_async(note_to_user)(member.pk, n)
    comm, ok, _ = await ws_connect(member, query=f"since={cursor}")
    assert ok
    frames = await drain(comm, 0.6)
    events = [f["event"] for f in frames]
    notes = [f["data"]["n"] for f in frames if f["event"] == "test:note"]
    assert notes == [2, 3, 4, 5, 6]
    assert events[-1] == "sync:done"
    offsets = [f["offset"] for f in frames if f["event"] == "test:note"]
    assert offsets == sorted(offsets, key=stream.offset_parse) and len(set(offsets)) == 5
    # Live events continue after the replay, each once.
    await database_sync_to_async(note_to_user)(member.pk, 7)
    (live,) = await _notes(comm, 1)
    assert live["data"]["n"] == 7
    assert [f for f in await drain(comm, 0.4) if f["event"] == "test:note"] == []
    await comm.disconnect()


async def test_rooms_replay_on_rejoin_with_one_cursor(member):
    keys = [uuid.uuid4().hex for _ in range(2)]
    for k in keys:
        member_add(k, member.pk)
    comm, _, _ = await ws_connect(member)
    for k in keys:
        await send(comm, "room:join", {"kind": "testroom", "key": k}, frame_id=k)
        await answer_for(comm, k)
    await database_sync_to_async(note_publish)(keys[0], 1)
    await database_sync_to_async(note_publish)(keys[1], 2)
    frames = await _notes(comm, 2)
    cursor = frames[-1]["cursor"]  # the newest cursor covers every group
    await comm.disconnect()
    await database_sync_to_async(note_publish)(keys[0], 3)
    await database_sync_to_async(note_publish)(keys[1], 4)
    await database_sync_to_async(note_to_user)(member.pk, 5)
    comm, _, _ = await ws_connect(member)
    await send(comm, "sync", {"cursor": cursor}, frame_id="s")
    frames = await drain(comm, 0.5)
    assert [f["data"]["n"] for f in frames if f["event"] == "test:note"] == [5]
    assert any(f["event"] == "sync:done" for f in frames)
    got = []
    for k in keys:
        await send(comm, "room:join", {"kind": "testroom", "key": k}, frame_id=k)
        frames = await drain(comm, 0.5)
        got += [f["data"]["n"] for f in frames if f["event"] == "test:note"]
        done = [f for f in frames if f["event"] == "sync:done"]
        assert done and done[0]["data"]["groups"] == [f"testroom.{k}"]
    assert got == [3, 4]
    await comm.disconnect()


async def test_cursor_past_retention_gets_sync_reset(member, settings):
    settings.REALTIME_STREAM_MAXLEN = 3
    comm, _, _ = await ws_connect(member)
    await database_sync_to_async(note_to_user)(member.pk, 1)
    (first,) = await _notes(comm, 1)
    await comm.disconnect()
    for n in range(2, 8):  # more than MAXLEN: entries after the cursor were trimmed
        await database_sync_to_async(note_to_user)(member.pk, n)
    comm, _, _ = await ws_connect(member, query=f"since={first['cursor']}")
    frames = await drain(comm, 0.5)
    assert [f["event"] for f in frames if f["event"].startswith("sync:")][:1] == ["sync:reset"]
    assert [f for f in frames if f["event"] == "test:note"] == []
    reset = next(f for f in frames if f["event"] == "sync:reset")
    assert reset["data"]["groups"] == [user_group(member.pk)]
    # The reset cursor is current: the next event arrives live.
    await database_sync_to_async(note_to_user)(member.pk, 8)
    (live,) = await _notes(comm, 1)
    assert live["data"]["n"] == 8
    await comm.disconnect()


async def test_redis_epoch_change_gets_sync_reset(member):
    comm, _, _ = await ws_connect(member)
    await database_sync_to_async(note_to_user)(member.pk, 1)
    (first,) = await _notes(comm, 1)
    await comm.disconnect()
    get_redis().set(key("stream", "epoch"), "another-data-set")
    comm, _, _ = await ws_connect(member, query=f"since={first['cursor']}")
    frames = await drain(comm, 0.5)
    assert frames and frames[0]["event"] == "sync:reset"
    await comm.disconnect()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "x" * 9000,
        stream.cursor_encode("e", {"user.x": "nope"}),
        stream.cursor_encode("e", {"../": "1-0"}),
    ],
)
async def test_bad_cursor_is_invalid_cursor_and_socket_stays(member, cursor):
    comm, _, _ = await ws_connect(member)
    await send(comm, "sync", {"cursor": cursor}, frame_id="s")
    answer = await answer_for(comm, "s")
    assert answer["event"] == "error" and answer["data"]["code"] == "invalid_cursor"
    await database_sync_to_async(note_to_user)(member.pk, 1)
    (live,) = await _notes(comm, 1)  # still delivering
    assert live["data"]["n"] == 1
    await comm.disconnect()


async def test_cursor_cannot_replay_another_users_group(member, make_user):
    other = await database_sync_to_async(make_user)(username="other")
    comm, _, _ = await ws_connect(other)
    await database_sync_to_async(note_to_user)(other.pk, 1)
    (first,) = await _notes(comm, 1)
    await comm.disconnect()
    await database_sync_to_async(note_to_user)(other.pk, 2)
    _, offsets = stream.cursor_decode(first["cursor"])
    epoch = await database_sync_to_async(stream.stream_epoch)()
    forged = stream.cursor_encode(epoch, offsets)
    spy, _, _ = await ws_connect(member, query=f"since={forged}")
    frames = await drain(spy, 0.5)
    assert [f for f in frames if f["event"] == "test:note"] == []
    await spy.disconnect()


async def test_non_durable_frames_carry_no_offset(member):
    comm, _, _ = await ws_connect(member)
    await send(comm, "map:subscribe", {"lat": 60.17, "lng": 24.94, "radius": 500}, frame_id=1)
    snapshot, _ = await recv_until(comm, "map:snapshot", timeout=10)
    assert "offset" not in snapshot and "cursor" not in snapshot
    await comm.disconnect()
