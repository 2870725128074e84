"""messaging: conversations and messages for every chat (direct, group, event, party, meetup, walk)."""

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """One model for every chat; rooms ``conversation.<id>`` on the socket."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "messaging"
