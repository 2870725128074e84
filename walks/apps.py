"""walks: walks, meet-now requests, introductions, meetups and proximity alerts (seeds 000, 001)."""

from django.apps import AppConfig


class WalksConfig(AppConfig):
    """Registers the walk and meetup rooms and exact-position providers in ``ready()``."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "walks"
