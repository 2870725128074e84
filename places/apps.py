"""places: OpenStreetMap points of interest, the walking network, routes."""

from django.apps import AppConfig


class PlacesConfig(AppConfig):
    """Points of interest and the walking network, imported from OpenStreetMap."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "places"
