"""Project configuration: settings, URLs, ASGI routing, Celery app, realtime core."""

from .celery import app as celery_app

__all__ = ("celery_app",)
