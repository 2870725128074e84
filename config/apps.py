"""App config for project-level pieces (realtime registry, health)."""

from django.apps import AppConfig


class ConfigAppConfig(AppConfig):
    """Registers the project-wide pieces that live in ``config``."""

    name = "config"
    label = "rendezvous_config"
    verbose_name = "Rendezvous"
