"""Server-to-client events of notifications (one payload builder each, in the catalog)."""

from __future__ import annotations

from realtime.catalog import server_event

#: Fields of a notification, as ``GET /api/notifications`` returns it and the ``notification`` event carries it.
NOTIFICATION_FIELDS = {
    "id": "int",
    "type": "str (notification type, docs/notifications.md)",
    "content": "str",
    "related_kind": "str ('' when none)",
    "related_id": "str or null",
    "data": "object",
    "is_read": "bool",
    "created_at": "ISO 8601 UTC",
}


@server_event(
    "notification",
    fields=NOTIFICATION_FIELDS,
    groups=("user.<id>",),
    durable=True,
    seed_names=("notification",),
)
def notification(item) -> dict:
    """A new notification of this user (seed 000 ``notification``), the same object ``GET /api/notifications`` lists.

    Durable: a socket that reconnects with its cursor gets the ones it missed.
    """
    return notification_json(item)


def notification_json(item) -> dict:
    """The JSON of one :class:`notifications.models.Notification` (REST and socket alike)."""
    return {
        "id": item.pk,
        "type": item.type,
        "content": item.content,
        "related_kind": item.related_kind,
        "related_id": item.related_id,
        "data": item.data or {},
        "is_read": item.is_read,
        "created_at": item.created_at.isoformat().replace("+00:00", "Z") if item.created_at else None,
    }
