"""Celery tasks of geo."""

from celery import shared_task

from .services import location_history_prune


@shared_task(name="geo.tasks.location_history_prune_task")
def location_history_prune_task() -> int:
    """Hourly (beat): delete location history past ``LOCATION_HISTORY_RETENTION_DAYS``; returns rows deleted."""
    return location_history_prune()
