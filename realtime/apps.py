"""realtime: the one socket consumer and the platform the apps register into."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """The consumer, handler registry, publish, rooms, the event catalog, presence, the reconnect stream."""

    name = "realtime"
    verbose_name = "Realtime"

    def ready(self):
        """Redact tokens from server logs; register the platform's own socket events."""
        from .logging import token_redaction_install

        token_redaction_install()
