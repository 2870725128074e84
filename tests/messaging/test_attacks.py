"""Attacks on messaging (security review): each test failed on the code before its fix."""

from __future__ import annotations

import pytest

from messaging.services import message_send
from notifications.models import Notification

from ..conftest import assert_error

pytestmark = pytest.mark.django_db


def test_no_messages_or_pushes_to_a_deactivated_user_through_an_old_conversation(make_user, client_for):
    """A deactivated account (banned, closed by staff) must not keep receiving DMs, notifications and pushes.

    ``receiver_id`` already answered 404 for an inactive user, but sending
    with the ``conversation_id`` of an existing direct conversation stored the
    message and notified the inactive receiver (``_direct_notify`` did not
    check ``is_active``): their registered phones kept getting pushes with
    message previews.
    """
    alice, bob = make_user(username="alice"), make_user(username="bob")
    conversation_id = message_send(sender=alice, receiver_id=bob.pk, body="hi").message.conversation_id
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    Notification.objects.all().delete()
    r = client_for(alice).post(
        "/api/messages", {"conversation_id": conversation_id, "message": "still there?"}, format="json"
    )
    assert_error(r, 404, "not_found")
    assert not Notification.objects.filter(user=bob).exists()


def test_room_state_hides_read_marks_of_members_in_a_block(make_user):
    """``message:read`` of a reader is hidden from members in a block with them; ``room:state`` must agree.

    Before the fix ``room:state`` of a room conversation listed every active
    member's ``last_read_message_id``, so a blocked user still followed the
    blocker's reading activity (rule 3: blocks apply both ways).
    """
    from accounts.models import Block
    from messaging.realtime import conversation_state
    from messaging.services import conversation_create_for, message_read

    alice, bob, carol = make_user(username="alice"), make_user(username="bob"), make_user(username="carol")
    conversation = conversation_create_for(
        owner_kind="", owner_id=None, member_ids=[alice.pk, bob.pk, carol.pk], kind="group"
    )
    message = message_send(sender=carol, conversation_id=conversation.pk, body="hello room").message
    Block.objects.create(blocker=bob, blocked=alice)
    message_read(user=bob, message_id=message.pk)
    marks = {
        m["user_id"]: m["last_read_message_id"] for m in conversation_state(alice, str(conversation.pk))["members"]
    }
    assert marks[str(bob.pk)] is None
    marks = {
        m["user_id"]: m["last_read_message_id"] for m in conversation_state(carol, str(conversation.pk))["members"]
    }
    assert marks[str(bob.pk)] == message.pk  # everyone else still sees it
