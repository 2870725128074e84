"""messaging: conversations and messages for every chat (direct, group, event, party, meetup, walk)."""

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """One model for every chat; rooms ``conversation.<id>`` on the socket."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "messaging"

    def ready(self):
        """Receive block signals (evict the pair from their direct room; refresh sockets' block caches).

        ``selectors.direct_contact_ids`` (users who exchanged DMs) is ready to
        register as the ``messaging`` contact provider; it is not registered
        yet (a change to the visibility rule: docs/messaging.md, rule 8).
        """
        from core import signals
        from realtime.publish import channel_message_send, user_group

        from . import realtime  # noqa: F401  (declares the room kind: services evict from it in any process)
        from .services import conversation_block_evict

        def blocks_changed(blocker_id, blocked_id):
            for user_id in (blocker_id, blocked_id):
                channel_message_send(user_group(user_id), {"type": "messaging.blocks"})

        def on_block_created(sender, blocker_id, blocked_id, **kwargs):
            conversation_block_evict(blocker_id=blocker_id, blocked_id=blocked_id)
            blocks_changed(blocker_id, blocked_id)

        def on_block_deleted(sender, blocker_id, blocked_id, **kwargs):
            blocks_changed(blocker_id, blocked_id)

        signals.block_created.connect(on_block_created, dispatch_uid="messaging_block_created", weak=False)
        signals.block_deleted.connect(on_block_deleted, dispatch_uid="messaging_block_deleted", weak=False)
