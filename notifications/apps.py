"""notifications: notifications, preferences, devices and push delivery."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """``notification_send`` for every app; Web Push and FCM delivery through Celery."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
