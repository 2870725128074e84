"""Keeps the one-settings-row-per-user invariant for every way a user is created."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import User, UserSettings


@receiver(post_save, sender=User, dispatch_uid="accounts_user_settings_create")
def user_settings_create_on_user_create(sender, instance, created, raw=False, **kwargs):
    """Create the :class:`UserSettings` row in the same transaction as the user."""
    if created and not raw:
        UserSettings.objects.get_or_create(user=instance)
