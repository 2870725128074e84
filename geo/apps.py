"""geo: live locations, location history, visibility, map nodes, presence."""

from django.apps import AppConfig


class GeoConfig(AppConfig):
    """Live geography of Rendezvous."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "geo"
