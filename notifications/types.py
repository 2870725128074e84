"""The notification types every app may send, with a description each (preferences are per type).

A new kind of notification is added here (one line) by the app that sends
it; :func:`notifications.services.notification_send` refuses unknown types
so that every type has a preference switch and a documented meaning.
"""

#: type -> description (docs/notifications.md lists them).
NOTIFICATION_TYPES: dict[str, str] = {
    "message": "A new direct message (seed 001 messages; push only when no socket of the receiver is connected).",
    "meet_request": "A meet-now request (seed 000 meet_request).",
    "introduction_request": "An introduction request (seed 000 introduction_request).",
    "meetup_update": "A meetup changed (seed 000 meetup_update).",
    "walk_request": "A walk request or its answer (seed 001 walk request flow).",
    "event_update": "An event you attend changed, or your attendance was approved or declined (seed 004).",
    "party": "A party invitation or a party alert (seed 002).",
    "room": "Room activity (seed 003).",
    "system": "Service announcements.",
}
