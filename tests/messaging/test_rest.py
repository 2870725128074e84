"""REST: send, history, inbox, read, edit, delete, report, with bad input and the wrong user."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from messaging.models import Conversation, ConversationMember, Message, MessageReport
from messaging.services import conversation_member_remove, message_send

from ..conftest import assert_error
from .conftest import block

pytestmark = pytest.mark.django_db


def send(client, **body):
    return client.post("/api/messages", body, format="json")


# --- POST /api/messages ----------------------------------------------------------------


def test_direct_message_creates_one_conversation_and_returns_201(trio, client_for):
    alice, bob, _ = trio
    r = send(client_for(alice), receiver_id=str(bob.pk), message="  hi bob  ")
    assert r.status_code == 201, r.content
    m = r.json()
    assert m["body"] == "hi bob" and m["sender_id"] == str(alice.pk) and m["conversation_kind"] == "direct"
    assert m["image_url"] is None and m["deleted_at"] is None and m["client_msg_id"] is None
    r2 = send(client_for(bob), receiver_id=str(alice.pk), message="hi alice")
    assert r2.json()["conversation_id"] == m["conversation_id"]
    assert Conversation.objects.filter(kind="direct").count() == 1
    assert ConversationMember.objects.filter(conversation_id=m["conversation_id"]).count() == 2


def test_retry_with_client_msg_id_returns_the_same_message_200(trio, client_for):
    alice, bob, _ = trio
    c = client_for(alice)
    first = send(c, receiver_id=str(bob.pk), message="once", client_msg_id="abc-1")
    again = send(c, receiver_id=str(bob.pk), message="once", client_msg_id="abc-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    assert Message.objects.count() == 1
    # another sender may use the same id
    assert send(client_for(bob), receiver_id=str(alice.pk), message="x", client_msg_id="abc-1").status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "receiver_id"),
        ({"message": "x"}, "receiver_id"),
        ({"receiver_id": "not-a-uuid", "message": "x"}, "receiver_id"),
        ({"receiver_id": "RECEIVER", "conversation_id": 1, "message": "x"}, "receiver_id"),
        ({"receiver_id": "RECEIVER"}, "message"),
        ({"receiver_id": "RECEIVER", "message": "   "}, "message"),
        ({"receiver_id": "RECEIVER", "message": "x" * 4001}, "message"),
        ({"receiver_id": "RECEIVER", "message": "x", "client_msg_id": "c" * 65}, "client_msg_id"),
        ({"conversation_id": "abc", "message": "x"}, "conversation_id"),
        ({"conversation_id": 0, "message": "x"}, "conversation_id"),
        ({"receiver_id": "RECEIVER", "message": ["x"]}, "message"),
    ],
)
def test_send_bad_input_400(trio, client_for, body, field):
    alice, bob, _ = trio
    body = {k: (str(bob.pk) if v == "RECEIVER" else v) for k, v in body.items()}
    err = assert_error(send(client_for(alice), **body), 400, "invalid")
    assert field in err["fields"]
    assert Message.objects.count() == 0


def test_max_length_body_is_accepted(trio, client_for):
    alice, bob, _ = trio
    assert send(client_for(alice), receiver_id=str(bob.pk), message="é" * 4000).status_code == 201


def test_send_to_unknown_user_or_self(trio, client_for):
    alice, _, _ = trio
    assert_error(send(client_for(alice), receiver_id=str(uuid.uuid4()), message="x"), 404, "not_found")
    assert_error(send(client_for(alice), receiver_id=str(alice.pk), message="x"), 400, "invalid")


def test_send_needs_authentication(anon, trio):
    assert_error(anon.post("/api/messages", {"receiver_id": str(trio[1].pk), "message": "x"}, format="json"), 401)


def test_non_member_cannot_post_into_a_conversation_404(trio, client_for, room, make_user):
    stranger = make_user(username="stranger")
    assert_error(send(client_for(stranger), conversation_id=room.pk, message="x"), 404, "not_found")
    assert_error(send(client_for(stranger), conversation_id=999999, message="x"), 404, "not_found")


@pytest.mark.parametrize("direction", ["alice_blocks_bob", "bob_blocks_alice"])
def test_blocked_pair_refused_both_ways_without_revealing_who(trio, client_for, direction):
    alice, bob, _ = trio
    send(client_for(alice), receiver_id=str(bob.pk), message="before")
    if direction == "alice_blocks_bob":
        block(alice, bob)
    else:
        block(bob, alice)
    bodies = []
    for sender, receiver in ((alice, bob), (bob, alice)):
        err = assert_error(send(client_for(sender), receiver_id=str(receiver.pk), message="x"), 403, "blocked")
        bodies.append(err)
        err2 = assert_error(client_for(sender).get(f"/api/messages/{receiver.pk}"), 403, "blocked")
        bodies.append(err2)
    assert all(b == bodies[0] for b in bodies)  # the same answer whoever blocked
    conversation_id = Message.objects.get().conversation_id
    assert_error(send(client_for(bob), conversation_id=conversation_id, message="x"), 403, "blocked")
    assert_error(client_for(bob).get(f"/api/conversations/{conversation_id}/messages"), 403, "blocked")
    assert client_for(alice).get("/api/conversations").json()["count"] == 0


@override_settings(MESSAGE_SEND_RATE="3/min")
def test_send_rate_limit_429(trio, client_for):
    alice, bob, _ = trio
    c = client_for(alice)
    for i in range(3):
        assert send(c, receiver_id=str(bob.pk), message=f"m{i}", client_msg_id=f"id{i}").status_code == 201
    r = send(c, receiver_id=str(bob.pk), message="too many")
    assert_error(r, 429, "rate_limited")
    assert int(r["Retry-After"]) >= 1
    # a retry of an already stored message is not a new message: still answered
    assert send(c, receiver_id=str(bob.pk), message="m0", client_msg_id="id0").status_code == 200


# --- history ----------------------------------------------------------------------------


def test_direct_history_newest_first_with_cursor_pagination(trio, client_for):
    alice, bob, _ = trio
    for i in range(5):
        message_send(sender=alice if i % 2 else bob, receiver_id=(bob if i % 2 else alice).pk, body=f"m{i}")
    c = client_for(alice)
    page = c.get(f"/api/messages/{bob.pk}?limit=2").json()
    assert [m["body"] for m in page["results"]] == ["m4", "m3"]
    page2 = c.get(page["next"]).json()
    assert [m["body"] for m in page2["results"]] == ["m2", "m1"]
    page3 = c.get(page2["next"]).json()
    assert [m["body"] for m in page3["results"]] == ["m0"] and page3["next"] is None


def test_direct_history_edge_cases(trio, client_for):
    alice, bob, carol = trio
    c = client_for(alice)
    assert c.get(f"/api/messages/{carol.pk}").json()["results"] == []
    assert_error(c.get(f"/api/messages/{uuid.uuid4()}"), 404, "not_found")
    assert_error(c.get("/api/messages/not-a-uuid"), 404, "not_found")
    assert_error(c.get(f"/api/messages/{alice.pk}"), 400, "invalid")
    assert_error(c.get(f"/api/messages/{bob.pk}?limit=0"), 400, "invalid")
    assert_error(c.get(f"/api/messages/{bob.pk}?limit=101"), 400, "invalid")
    assert_error(c.get(f"/api/messages/{bob.pk}?cursor=garbage"), 404)


def test_conversation_messages_before_and_limit(trio, client_for, room):
    alice, bob, _ = trio
    ids = [message_send(sender=bob, conversation_id=room.pk, body=f"m{i}").message.pk for i in range(5)]
    c = client_for(alice)
    r = c.get(f"/api/conversations/{room.pk}/messages?limit=2").json()
    assert [m["id"] for m in r["results"]] == [ids[4], ids[3]] and r["next_before"] == ids[3]
    r = c.get(f"/api/conversations/{room.pk}/messages?limit=2&before={ids[3]}").json()
    assert [m["id"] for m in r["results"]] == [ids[2], ids[1]]
    r = c.get(f"/api/conversations/{room.pk}/messages?before={ids[1]}").json()
    assert [m["id"] for m in r["results"]] == [ids[0]] and r["next_before"] is None
    for bad in ("before=0", "before=x", "limit=0", "limit=101", "limit=x"):
        assert_error(c.get(f"/api/conversations/{room.pk}/messages?{bad}"), 400, "invalid")


def test_non_member_reading_a_conversation_gets_404_like_an_unknown_id(trio, client_for, room, make_user):
    stranger = make_user(username="stranger")
    c = client_for(stranger)
    a = assert_error(c.get(f"/api/conversations/{room.pk}/messages"), 404, "not_found")
    b = assert_error(c.get("/api/conversations/99999999/messages"), 404, "not_found")
    assert a == b


def test_removed_member_loses_access(trio, client_for, room):
    _, bob, _ = trio
    message_send(sender=bob, conversation_id=room.pk, body="hi")
    conversation_member_remove(conversation=room, user_id=bob.pk)
    assert_error(client_for(bob).get(f"/api/conversations/{room.pk}/messages"), 404)
    assert_error(send(client_for(bob), conversation_id=room.pk, message="x"), 404)
    assert client_for(bob).get("/api/conversations").json()["count"] == 0


def test_group_messages_of_a_blocked_user_are_hidden_from_the_blocker(trio, client_for, room):
    alice, bob, carol = trio
    message_send(sender=bob, conversation_id=room.pk, body="from bob")
    message_send(sender=carol, conversation_id=room.pk, body="from carol")
    message_send(sender=alice, conversation_id=room.pk, body="from alice")
    block(alice, bob)
    bodies = [m["body"] for m in client_for(alice).get(f"/api/conversations/{room.pk}/messages").json()["results"]]
    assert bodies == ["from alice", "from carol"]
    # ...and the blocker's from the blocked one (blocks apply both ways)
    bodies = [m["body"] for m in client_for(bob).get(f"/api/conversations/{room.pk}/messages").json()["results"]]
    assert bodies == ["from carol", "from bob"]
    # carol sees all three
    assert len(client_for(carol).get(f"/api/conversations/{room.pk}/messages").json()["results"]) == 3
    inbox = client_for(bob).get("/api/conversations").json()["results"][0]
    assert inbox["last_message"]["body"] == "from carol" and inbox["unread_count"] == 1


# --- inbox and read ----------------------------------------------------------------------


def test_inbox_ordered_by_activity_with_last_message_and_unread(trio, client_for, room):
    alice, bob, carol = trio
    m1 = message_send(sender=bob, receiver_id=alice.pk, body="dm1").message
    message_send(sender=bob, receiver_id=alice.pk, body="dm2")
    message_send(sender=carol, conversation_id=room.pk, body="room1")
    rows = client_for(alice).get("/api/conversations").json()["results"]
    assert [r["kind"] for r in rows] == ["group", "direct"]
    assert rows[0]["unread_count"] == 1 and rows[0]["last_message"]["body"] == "room1" and rows[0]["role"] == "owner"
    assert rows[1]["unread_count"] == 2 and rows[1]["other_user_id"] == str(bob.pk)
    r = client_for(alice).put(f"/api/messages/{m1.pk}/read")
    assert r.status_code == 200 and r.json() == {
        "conversation_id": m1.conversation_id,
        "last_read_message_id": m1.pk,
        "unread_count": 1,
    }
    message_send(sender=alice, receiver_id=bob.pk, body="reply")  # own messages are never unread
    rows = client_for(alice).get("/api/conversations").json()["results"]
    assert rows[0]["kind"] == "direct" and rows[0]["unread_count"] == 1


def test_read_never_moves_back_and_rejects_strangers(trio, client_for):
    alice, bob, carol = trio
    m1 = message_send(sender=bob, receiver_id=alice.pk, body="1").message
    m2 = message_send(sender=bob, receiver_id=alice.pk, body="2").message
    c = client_for(alice)
    assert c.put(f"/api/messages/{m2.pk}/read").json()["last_read_message_id"] == m2.pk
    assert c.put(f"/api/messages/{m1.pk}/read").json()["last_read_message_id"] == m2.pk
    assert_error(client_for(carol).put(f"/api/messages/{m1.pk}/read"), 404, "not_found")
    assert_error(c.put("/api/messages/99999999/read"), 404, "not_found")


# --- edit, delete, report ---------------------------------------------------------------------


def test_edit_own_message_only(trio, client_for):
    alice, bob, carol = trio
    m = message_send(sender=alice, receiver_id=bob.pk, body="tpyo").message
    r = client_for(alice).patch(f"/api/messages/{m.pk}", {"message": "typo"}, format="json")
    assert r.status_code == 200 and r.json()["body"] == "typo" and r.json()["edited_at"]
    assert_error(
        client_for(bob).patch(f"/api/messages/{m.pk}", {"message": "x"}, format="json"), 403, "not_your_message"
    )
    assert_error(client_for(carol).patch(f"/api/messages/{m.pk}", {"message": "x"}, format="json"), 404)
    assert_error(client_for(alice).patch(f"/api/messages/{m.pk}", {"message": ""}, format="json"), 400, "invalid")
    assert_error(client_for(alice).patch(f"/api/messages/{m.pk}", {"message": "x" * 4001}, format="json"), 400)
    assert_error(client_for(alice).patch(f"/api/messages/{m.pk}", {}, format="json"), 400)
    assert_error(client_for(alice).patch("/api/messages/99999999", {"message": "x"}, format="json"), 404)
    m.refresh_from_db()
    assert m.body == "typo"


def test_delete_own_message_keeps_a_tombstone(trio, client_for):
    alice, bob, carol = trio
    m = message_send(sender=alice, receiver_id=bob.pk, body="oops").message
    assert_error(client_for(bob).delete(f"/api/messages/{m.pk}"), 403, "not_your_message")
    assert_error(client_for(carol).delete(f"/api/messages/{m.pk}"), 404)
    r = client_for(alice).delete(f"/api/messages/{m.pk}")
    assert r.status_code == 200 and r.json()["body"] == "" and r.json()["deleted_at"]
    m.refresh_from_db()
    assert m.body == "" and m.deleted_at is not None
    history = client_for(bob).get(f"/api/messages/{alice.pk}").json()["results"]
    assert history[0]["id"] == m.pk and history[0]["body"] == "" and history[0]["deleted_at"]
    assert_error(client_for(alice).delete(f"/api/messages/{m.pk}"), 409, "message_deleted")
    assert_error(client_for(alice).patch(f"/api/messages/{m.pk}", {"message": "x"}, format="json"), 409)


def test_report_is_stored_once_for_staff(trio, client_for):
    alice, bob, carol = trio
    m = message_send(sender=alice, receiver_id=bob.pk, body="spam").message
    r = client_for(bob).post(f"/api/messages/{m.pk}/report", {"reason": "spam"}, format="json")
    assert r.status_code == 201 and r.json()["message_id"] == m.pk
    assert MessageReport.objects.get().reporter == bob
    assert_error(client_for(bob).post(f"/api/messages/{m.pk}/report", {"reason": "again"}, format="json"), 409)
    assert_error(client_for(carol).post(f"/api/messages/{m.pk}/report", {"reason": "x"}, format="json"), 404)
    assert_error(client_for(alice).post(f"/api/messages/{m.pk}/report", {"reason": "me"}, format="json"), 400)
    assert_error(client_for(bob).post(f"/api/messages/{m.pk}/report", {"reason": ""}, format="json"), 400)
    assert_error(client_for(bob).post(f"/api/messages/{m.pk}/report", {"reason": "r" * 501}, format="json"), 400)


def test_admin_lists_reports_for_staff(trio, client_for, client):
    from django.contrib.auth import get_user_model

    alice, bob, _ = trio
    m = message_send(sender=alice, receiver_id=bob.pk, body="spam").message
    MessageReport.objects.create(message=m, reporter=bob, reason="spam")
    staff = get_user_model().objects.create_superuser(email="s@example.test", username="staff", password="x-Pass-123")
    client.force_login(staff)
    assert client.get("/admin/messaging/messagereport/").status_code == 200
    assert client.get(f"/admin/messaging/message/{m.pk}/change/").status_code == 200


def test_direct_contact_ids_need_messages_both_ways(trio):
    from messaging.selectors import direct_contact_ids

    alice, bob, _ = trio
    message_send(sender=alice, receiver_id=bob.pk, body="hi")
    assert direct_contact_ids(alice.pk) == set() and direct_contact_ids(bob.pk) == set()
    message_send(sender=bob, receiver_id=alice.pk, body="hello")
    assert direct_contact_ids(alice.pk) == {bob.pk} and direct_contact_ids(bob.pk) == {alice.pk}
