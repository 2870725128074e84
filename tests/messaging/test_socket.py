"""Socket: message:send (aliases, seed 004 shape), delivery, blocks, rooms and eviction, typing, reconnect."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async as sync

from accounts.services import block_create
from messaging.models import Message
from messaging.services import conversation_create_for, conversation_member_remove, message_send
from tests.realtime.conftest import drain, recv, recv_until, send, ws_connect

from .conftest import block

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def people(transactional_db, make_user):
    mk = sync(make_user)
    return await mk(username="alice", full_name="Alice A"), await mk(username="bob"), await mk(username="carol")


async def answer(comm, frame_id, timeout=3.0):
    """The ack or error answering ``frame_id``; returns it and the other frames seen before."""
    seen = []
    while True:
        frame = await recv(comm, timeout=timeout)
        if frame.get("id") == frame_id and frame["event"] in ("ack", "error"):
            return frame, seen
        seen.append(frame)


async def join(comm, conversation_id, frame_id="j"):
    await send(comm, "room:join", {"kind": "conversation", "key": str(conversation_id)}, frame_id=frame_id)
    return await answer(comm, frame_id)


def _room(owner, members, owner_id="g1", kind="group"):
    return conversation_create_for(
        owner_kind="testgroup" if kind == "group" else kind,
        owner_id=owner_id,
        member_ids=[m.pk for m in members],
        kind=kind,
        owner_user_id=owner.pk,
    )


async def test_dm_over_socket_acks_the_message_and_reaches_the_receiver_without_joining(people):
    alice, bob, _ = people
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    await send(a, "message:send", {"receiver_id": str(bob.pk), "message": "hi", "client_msg_id": "c1"}, frame_id=1)
    ack, _ = await answer(a, 1)
    assert ack["event"] == "ack" and ack["data"]["body"] == "hi" and ack["data"]["created"] is True
    frame, _ = await recv_until(b, "message:new")
    assert frame["data"]["id"] == ack["data"]["id"] and frame["data"]["sender_id"] == str(alice.pk)
    assert frame["offset"] and frame["cursor"]
    # a retry: same message, created false, nothing new delivered
    await send(a, "send_message", {"receiverId": str(bob.pk), "content": "hi", "clientMsgId": "c1"}, frame_id=2)
    ack2, _ = await answer(a, 2)
    assert ack2["data"]["id"] == ack["data"]["id"] and ack2["data"]["created"] is False
    assert [f for f in await drain(b) if f["event"] == "message:new"] == []
    assert await sync(Message.objects.count)() == 1
    await a.disconnect()
    await b.disconnect()


@pytest.mark.parametrize(
    "data, code",
    [
        ({}, "invalid"),
        ({"receiver_id": "nope", "message": "x"}, "invalid"),
        ({"receiver_id": "RECEIVER"}, "invalid"),
        ({"receiver_id": "RECEIVER", "message": "x" * 4001}, "invalid"),
        ({"receiver_id": "RECEIVER", "conversation_id": 3, "message": "x"}, "invalid"),
        ({"receiver_id": "RECEIVER", "content": "x", "imageUrl": "http://x/y.jpg"}, "invalid"),
        ({"conversation_id": 987654, "message": "x"}, "not_found"),
        ({"eventId": "no-such-event", "content": "x"}, "not_found"),
        ({"receiver_id": "00000000-0000-0000-0000-000000000000", "message": "x"}, "not_found"),
    ],
)
async def test_socket_send_bad_input(people, data, code):
    alice, bob, _ = people
    data = {k: (str(bob.pk) if v == "RECEIVER" else v) for k, v in data.items()}
    a, _, _ = await ws_connect(alice)
    await send(a, "message:send", data, frame_id="x")
    err, _ = await answer(a, "x")
    assert err["event"] == "error" and err["data"]["code"] == code, err
    await send(a, "message:send", {"receiver_id": str(bob.pk), "message": "still open"}, frame_id="y")
    assert (await answer(a, "y"))[0]["event"] == "ack"  # the socket stays open
    await a.disconnect()


async def test_blocked_pair_refused_over_socket_both_ways(people):
    alice, bob, _ = people
    await sync(block)(bob, alice)
    for sender, receiver in ((alice, bob), (bob, alice)):
        comm, _, _ = await ws_connect(sender)
        await send(comm, "message:send", {"receiver_id": str(receiver.pk), "message": "x"}, frame_id=1)
        err, _ = await answer(comm, 1)
        assert err["data"]["code"] == "blocked"
        await comm.disconnect()


async def test_seed_004_event_chat_shape(people):
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob], owner_id="42", kind="event")
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    c, _, _ = await ws_connect(carol)
    assert (await join(b, conv.pk))[0]["event"] == "ack"
    await send(a, "send_message", {"eventId": "42", "content": "see you there"}, frame_id=1)
    ack, _ = await answer(a, 1)
    assert ack["data"]["conversation_id"] == conv.pk and ack["data"]["conversation_kind"] == "event"
    frame, _ = await recv_until(b, "message:new")
    assert frame["data"]["body"] == "see you there"
    await send(c, "send_message", {"eventId": "42", "content": "let me in"}, frame_id=2)
    assert (await answer(c, 2))[0]["data"]["code"] == "not_found"
    for comm in (a, b, c):
        await comm.disconnect()


async def test_room_join_is_for_members_only_and_strangers_get_not_found(people, make_user):
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob])
    c, _, _ = await ws_connect(carol)
    err, _ = await join(c, conv.pk)
    unknown, _ = await join(c, 99999999, frame_id="k")
    assert err["data"]["code"] == unknown["data"]["code"] == "not_found"
    b, _, _ = await ws_connect(bob)
    ack, before = await join(b, conv.pk)
    assert ack["event"] == "ack" and ack["data"]["group"] == f"conversation.{conv.pk}"
    state = [f for f in before if f["event"] == "room:state"][0]["data"]["state"]
    assert state["kind"] == "group" and {m["user_id"] for m in state["members"]} == {str(alice.pk), str(bob.pk)}
    await b.disconnect()
    await c.disconnect()


async def test_group_message_hidden_from_the_blocker_on_the_socket(people):
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob, carol])
    await sync(block)(alice, bob)
    socks = {}
    for user in (alice, bob, carol):
        socks[user.username], _, _ = await ws_connect(user)
        assert (await join(socks[user.username], conv.pk))[0]["event"] == "ack"
    await sync(message_send)(sender=bob, conversation_id=conv.pk, body="from bob")
    await sync(message_send)(sender=carol, conversation_id=conv.pk, body="from carol")
    got = {
        name: [f["data"]["body"] for f in await drain(s, 0.5) if f["event"] == "message:new"]
        for name, s in socks.items()
    }
    assert got["alice"] == ["from carol"]
    assert got["carol"] == ["from bob", "from carol"]
    assert got["bob"] == ["from bob", "from carol"]
    for s in socks.values():
        await s.disconnect()


async def test_removed_member_is_evicted_and_hears_nothing_more(people):
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob, carol])
    b, _, _ = await ws_connect(bob)
    c, _, _ = await ws_connect(carol)
    await join(b, conv.pk)
    await join(c, conv.pk)
    await sync(conversation_member_remove)(conversation=conv, user_id=bob.pk, reason="removed")
    left, _ = await recv_until(b, "room:left")
    assert left["data"] == {"kind": "conversation", "key": str(conv.pk), "reason": "removed"}
    await sync(message_send)(sender=alice, conversation_id=conv.pk, body="after")
    assert (await recv_until(c, "message:new"))[0]["data"]["body"] == "after"
    assert [f for f in await drain(b) if f["event"] == "message:new"] == []
    err, _ = await join(b, conv.pk, frame_id="again")
    assert err["data"]["code"] == "not_found"
    await b.disconnect()
    await c.disconnect()


async def test_a_block_evicts_both_from_their_direct_room(people):
    alice, bob, _ = people
    result = await sync(message_send)(sender=alice, receiver_id=bob.pk, body="hi")
    conv_id = result.message.conversation_id
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    await join(a, conv_id)
    await join(b, conv_id)
    await sync(block_create)(blocker=bob, blocked_id=alice.pk)
    for comm in (a, b):
        left, _ = await recv_until(comm, "room:left")
        assert left["data"]["reason"] == "blocked"
    err, _ = await join(a, conv_id, frame_id="again")
    assert err["data"]["code"] == "blocked"
    await a.disconnect()
    await b.disconnect()


async def test_typing_is_relayed_expires_and_is_never_stored(people, settings):
    settings.MESSAGE_TYPING_TTL_S = 0.4
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob])
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    await join(a, conv.pk)
    await join(b, conv.pk)
    await send(a, "typing", {"conversationId": conv.pk, "isTyping": True}, frame_id=1)
    ack, _ = await answer(a, 1)
    assert ack["data"] == {"conversation_id": conv.pk, "is_typing": True}
    frame, _ = await recv_until(b, "user:typing")
    assert frame["data"] == {"conversation_id": conv.pk, "user_id": str(alice.pk), "name": "Alice A", "is_typing": True}
    assert "offset" not in frame
    loop = asyncio.get_running_loop()
    started = loop.time()
    frame, _ = await recv_until(b, "user:typing", timeout=3)
    assert frame["data"]["is_typing"] is False and loop.time() - started >= 0.3
    assert [f for f in await drain(a) if f["event"] == "user:typing"] == []  # never echoed to the typist
    # an explicit stop cancels the timer: exactly one false
    await send(a, "typing:start", {"conversation_id": conv.pk}, frame_id=2)
    await answer(a, 2)
    await send(a, "typing:stop", {"conversation_id": conv.pk}, frame_id=3)
    await answer(a, 3)
    frames = [f["data"]["is_typing"] for f in await drain(b, 0.8) if f["event"] == "user:typing"]
    assert frames == [True, False]
    assert await sync(Message.objects.count)() == 0
    await a.disconnect()
    await b.disconnect()


async def test_typing_needs_the_room_bad_input_and_rate_limit(people, settings):
    settings.MESSAGE_TYPING_RATE = "3/min"
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob])
    c, _, _ = await ws_connect(carol)
    await send(c, "typing", {"conversation_id": conv.pk}, frame_id=1)
    assert (await answer(c, 1))[0]["data"]["code"] == "room_not_joined"
    await send(c, "typing", {}, frame_id=2)
    assert (await answer(c, 2))[0]["data"]["code"] == "invalid"
    await send(c, "typing", {"conversation_id": "x"}, frame_id=3)
    assert (await answer(c, 3))[0]["data"]["code"] == "invalid"
    for i in (4, 5):
        await send(c, "typing", {"conversation_id": conv.pk}, frame_id=i)
        await answer(c, i)
    await send(c, "typing", {"conversation_id": conv.pk}, frame_id=6)
    err = (await answer(c, 6))[0]["data"]
    assert err["code"] == "rate_limited" and err["retry_after"] > 0
    await c.disconnect()


async def test_typing_of_a_blocked_member_is_not_shown_and_disconnect_stops_typing(people):
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob, carol])
    await sync(block)(carol, alice)
    a, _, _ = await ws_connect(alice)
    b, _, _ = await ws_connect(bob)
    c, _, _ = await ws_connect(carol)
    for comm in (a, b, c):
        await join(comm, conv.pk)
    await send(a, "typing", {"conversation_id": conv.pk}, frame_id=1)
    await answer(a, 1)
    assert (await recv_until(b, "user:typing"))[0]["data"]["is_typing"] is True
    await a.disconnect()
    assert (await recv_until(b, "user:typing"))[0]["data"]["is_typing"] is False
    assert [f for f in await drain(c) if f["event"] == "user:typing"] == []
    await b.disconnect()
    await c.disconnect()


async def test_read_receipts_reach_the_other_member(people):
    alice, bob, _ = people
    m = (await sync(message_send)(sender=alice, receiver_id=bob.pk, body="read me")).message
    a, _, _ = await ws_connect(alice)
    from messaging.services import message_read

    await sync(message_read)(user=bob, message_id=m.pk)
    frame, _ = await recv_until(a, "message:read")
    assert frame["data"]["user_id"] == str(bob.pk) and frame["data"]["last_read_message_id"] == m.pk
    assert frame["offset"]
    await a.disconnect()


async def test_edit_and_delete_are_published(people):
    alice, bob, _ = people
    from messaging.services import message_delete, message_edit

    m = (await sync(message_send)(sender=alice, receiver_id=bob.pk, body="v1")).message
    b, _, _ = await ws_connect(bob)
    await sync(message_edit)(user=alice, message_id=m.pk, body="v2")
    assert (await recv_until(b, "message:edited"))[0]["data"]["body"] == "v2"
    await sync(message_delete)(user=alice, message_id=m.pk)
    deleted = (await recv_until(b, "message:deleted"))[0]["data"]
    assert deleted["id"] == m.pk and deleted["deleted_at"]
    await b.disconnect()


async def test_reconnect_with_cursor_replays_missed_messages_exactly_once(people):
    alice, bob, carol = people
    conv = await sync(_room)(alice, [bob])
    b, _, _ = await ws_connect(bob)
    ack, _ = await join(b, conv.pk)
    cursor = ack["data"]["cursor"]
    await b.disconnect()
    # missed while offline: two DMs (user group) and one room message (room group)
    await sync(message_send)(sender=alice, receiver_id=bob.pk, body="dm1")
    await sync(message_send)(sender=carol, receiver_id=bob.pk, body="dm2")
    await sync(message_send)(sender=alice, conversation_id=conv.pk, body="room1")
    b, ok, _ = await ws_connect(bob, query=f"since={quote(cursor)}")
    assert ok
    done, before = await recv_until(b, "sync:done")
    assert [f["data"]["body"] for f in before if f["event"] == "message:new"] == ["dm1", "dm2"]
    ack, before = await join(b, conv.pk, frame_id="rejoin")
    assert [f["data"]["body"] for f in before if f["event"] == "message:new"] == ["room1"]
    # live after the replay; nothing twice
    await sync(message_send)(sender=alice, receiver_id=bob.pk, body="dm3")
    rest = [f["data"]["body"] for f in await drain(b, 0.5) if f["event"] == "message:new"]
    assert rest == ["dm3"]
    await b.disconnect()
