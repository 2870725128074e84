"""walks: walks, meet-now requests, introductions, meetups and proximity alerts (seeds 000, 001)."""

import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class WalksConfig(AppConfig):
    """Registers the walk room, the exact-position and contact providers, and signal receivers in ``ready()``."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "walks"

    def ready(self):
        """Declare the ``walk`` room and events; register providers; receive ``fix_stored`` and ``block_created``.

        * exact-position provider ``walks``: the other walker of each accepted
          or in-progress walk (until it ends, is cancelled or expires);
        * contact provider ``walks``: people one completed a walk with;
        * ``fixes_stored``: ``walk:location`` to live walks' rooms and the track;
        * ``block_created``: pending and live walks between the pair are cancelled.
        * meetups: exact-position provider ``meetups`` (co-participants of an
          active meetup within ``MEETUP_EXACT_TTL_S`` of its time), contact
          provider ``meetups``, ``meetup:update`` positions on ``fix_stored``,
          pending meet-now requests and shared meetups cancelled on a block.
        """
        from accounts.selectors import contact_provider
        from core import signals
        from geo.selectors import exact_position_provider, nearby_filter

        from . import (
            events,  # noqa: F401  (declares the server events)
            meet,
            realtime,  # noqa: F401  (declares the room kind: services evict from it in any process)
        )
        from .introductions import introductions_cancel_for_block
        from .proximity import proximity_fix_stored, proximity_revoke_for_block
        from .selectors import available_walkers_filter, fix_listeners_of, walk_contact_ids, walk_exact_partner_ids
        from .services import walk_fix_stored, walks_cancel_for_block

        exact_position_provider("walks")(walk_exact_partner_ids)
        contact_provider("walks")(walk_contact_ids)
        nearby_filter("available")(available_walkers_filter)
        exact_position_provider("meetups")(meet.meetup_exact_partner_ids)
        contact_provider("meetups")(meet.meetup_contact_ids)

        def on_fixes_stored(sender, fixes, **kwargs):
            # The common case: one indexed query for the whole batch (bench: ingest profile).
            concerned = fix_listeners_of([f["user_id"] for f in fixes])
            for fix in fixes:
                if str(fix["user_id"]) not in concerned:
                    continue
                try:
                    on_fix_stored(**fix)
                except Exception:  # one fix's failure never stops the others of the batch
                    logger.exception("walks: fix of %s not applied", fix["user_id"])

        def on_fix_stored(user_id, lat, lng, recorded_at, **kwargs):
            walk_fix_stored(
                user_id=user_id,
                lat=lat,
                lng=lng,
                recorded_at=recorded_at,
                accuracy_m=kwargs.get("accuracy_m"),
                speed_mps=kwargs.get("speed_mps"),
                heading_deg=kwargs.get("heading_deg"),
            )
            meet.meetup_fix_stored(
                user_id=user_id, lat=lat, lng=lng, recorded_at=recorded_at, accuracy_m=kwargs.get("accuracy_m")
            )
            proximity_fix_stored(user_id=user_id, lat=lat, lng=lng)

        def on_block_created(sender, blocker_id, blocked_id, **kwargs):
            walks_cancel_for_block(blocker_id=blocker_id, blocked_id=blocked_id)
            meet.meet_cancel_for_block(blocker_id=blocker_id, blocked_id=blocked_id)
            introductions_cancel_for_block(blocker_id=blocker_id, blocked_id=blocked_id)
            proximity_revoke_for_block(blocker_id=blocker_id, blocked_id=blocked_id)

        signals.fixes_stored.connect(on_fixes_stored, dispatch_uid="walks_fixes_stored", weak=False)
        signals.block_created.connect(on_block_created, dispatch_uid="walks_block_created", weak=False)
