"""core: the cross-cutting runtime every app uses (errors, validation, Redis, rate limits, health, signals)."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Holds no models; registered so its management commands and checks load."""

    name = "core"
    verbose_name = "Rendezvous core"
