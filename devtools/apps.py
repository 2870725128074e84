"""devtools: demo users, the simulated city and the benchmark helpers (never needed in production)."""

from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Management commands ``seed_users`` and ``simulate_city``."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "devtools"
