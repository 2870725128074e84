"""accounts: users, roles, settings, blocks, auth, search."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Connects the signal that creates a user's settings row with the user."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from . import signals  # noqa: F401
