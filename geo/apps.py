"""geo: live locations, location history, visibility, map nodes, presence."""

from django.apps import AppConfig


class GeoConfig(AppConfig):
    """Live geography of Rendezvous."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "geo"

    def ready(self):
        """Receive accounts' domain signals: a visibility change re-queues the user on the live map."""
        from core import signals

        from .services import map_visibility_changed

        def on_visibility_changed(sender, user_id, **kwargs):
            map_visibility_changed(user_id)

        signals.visibility_changed.connect(on_visibility_changed, dispatch_uid="geo_visibility_changed", weak=False)
