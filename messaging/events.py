"""Server-to-client events of messaging (one payload builder each, in the catalog).

Delivery (docs/messaging.md, "Delivery"): in a direct conversation every
event goes to both members' ``user.<id>`` groups; in a room conversation to
``conversation.<id>``, except when a member has a block with the author, then
to the ``user.<id>`` group of each member without such a block.
``user:typing`` goes to ``conversation.<id>`` and is filtered per socket.
"""

from __future__ import annotations

from realtime.catalog import server_event

#: Fields of a message as REST and the socket return it.
MESSAGE_FIELDS = {
    "id": "int",
    "conversation_id": "int",
    "conversation_kind": "direct | group | event | party | meetup | walk",
    "sender_id": "uuid",
    "sender_name": "str",
    "body": "str (empty on a tombstone)",
    "image_url": "str (relative URL) or null",
    "client_msg_id": "str or null (the sender's idempotency key)",
    "created_at": "ISO 8601 UTC",
    "edited_at": "ISO 8601 UTC or null",
    "deleted_at": "ISO 8601 UTC or null",
}
_GROUPS = ("user.<id>", "conversation.<id>")


def _iso(value):
    return value.isoformat() if value else None


def message_data(message, *, sender_name: str | None = None) -> dict:
    """The one shape of a message (REST responses, acks and every message event); see :data:`MESSAGE_FIELDS`."""
    if sender_name is None:
        sender = message.sender
        sender_name = sender.full_name or sender.username
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "conversation_kind": message.conversation.kind,
        "sender_id": str(message.sender_id),
        "sender_name": sender_name,
        "body": "" if deleted else message.body,
        "image_url": message.image.url if (message.image and not deleted) else None,
        "client_msg_id": message.client_msg_id or None,
        "created_at": _iso(message.created_at),
        "edited_at": _iso(message.edited_at),
        "deleted_at": _iso(message.deleted_at),
    }


@server_event(
    "message:new",
    fields=MESSAGE_FIELDS,
    groups=_GROUPS,
    durable=True,
    seed_names=("message:received", "new_message"),
)
def message_new(message) -> dict:
    """A message was sent in one of the user's conversations (the message, as ``POST /api/messages`` returns it)."""
    return message_data(message)


@server_event("message:edited", fields=MESSAGE_FIELDS, groups=_GROUPS, durable=True)
def message_edited(message) -> dict:
    """Its sender edited a message (the whole message, ``edited_at`` set)."""
    return message_data(message)


@server_event(
    "message:deleted",
    fields={"id": "int", "conversation_id": "int", "deleted_at": "ISO 8601 UTC"},
    groups=_GROUPS,
    durable=True,
)
def message_deleted(message) -> dict:
    """Its sender deleted a message; clients replace it with a tombstone."""
    return {"id": message.pk, "conversation_id": message.conversation_id, "deleted_at": _iso(message.deleted_at)}


@server_event(
    "message:read",
    fields={
        "conversation_id": "int",
        "user_id": "uuid (the reader)",
        "last_read_message_id": "int",
        "read_at": "ISO 8601 UTC",
    },
    groups=_GROUPS,
    durable=True,
)
def message_read(conversation_id: int, user_id, last_read_message_id: int, read_at) -> dict:
    """Read receipt: ``user_id`` has read every message up to ``last_read_message_id``."""
    return {
        "conversation_id": conversation_id,
        "user_id": str(user_id),
        "last_read_message_id": last_read_message_id,
        "read_at": _iso(read_at),
    }


@server_event(
    "user:typing",
    fields={"conversation_id": "int", "user_id": "uuid", "name": "str", "is_typing": "bool"},
    groups=("conversation.<id>",),
    durable=False,
    seed_names=("user_typing",),
)
def user_typing(conversation_id: int, user_id, name: str, is_typing: bool) -> dict:
    """A member started or stopped typing; ``is_typing: false`` is also sent 5 s after the last ``typing``."""
    return {"conversation_id": conversation_id, "user_id": str(user_id), "name": name, "is_typing": bool(is_typing)}
