"""Celery tasks of notifications: one push to one device, retried with exponential backoff."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from .push import GONE, SENT, PushTransientError, provider_for

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="notifications.tasks.push_send_task",
    autoretry_for=(PushTransientError,),
    retry_backoff=settings.PUSH_RETRY_BACKOFF_S,
    retry_backoff_max=settings.PUSH_RETRY_BACKOFF_MAX_S,
    retry_jitter=True,
    max_retries=settings.PUSH_MAX_RETRIES,
    acks_late=True,
)
def push_send_task(self, device_id: int, payload: dict) -> str:
    """Push ``payload`` (the notification JSON) to device ``device_id``; returns the outcome status.

    ``sent`` (``last_used_at`` updated), ``gone`` (the device is deleted),
    ``rejected``, ``disabled`` (provider not configured) or ``missing`` (the
    device was deleted meanwhile). Transient failures (network, 429, 5xx)
    are retried up to ``PUSH_MAX_RETRIES`` times after
    ``PUSH_RETRY_BACKOFF_S`` x 2^n seconds (jittered, at most
    ``PUSH_RETRY_BACKOFF_MAX_S``).
    """
    from .models import Device
    from .services import device_gone, device_used

    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        return "missing"
    result = provider_for(device.kind).send(device, payload)
    if result.status == GONE:
        device_gone(device_id=device.pk, reason=result.detail)
    elif result.status == SENT:
        device_used(device_id=device.pk)
    else:
        logger.info("push to device %s: %s %s", device.pk, result.status, result.detail)
    return result.status
