"""Fixtures of notification tests: VAPID keys, a local Web Push receiver, recorded push tasks."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifications.tasks import push_send_task

from .webpush_receiver import WebPushReceiver, b64url


def vapid_pair() -> tuple[str, str]:
    """A fresh VAPID key pair ``(private, public)`` as ``manage.py push_vapid_keys`` prints it."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    public = b64url(
        key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return private, public


@pytest.fixture
def vapid(settings):
    """Configure Web Push with a fresh VAPID key pair; returns ``(private, public)``."""
    private, public = vapid_pair()
    settings.PUSH_VAPID_PRIVATE_KEY = private
    settings.PUSH_VAPID_PUBLIC_KEY = public
    settings.PUSH_VAPID_SUBJECT = "mailto:push-test@rendezvous.invalid"
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = True
    return private, public


@pytest.fixture
def receiver():
    """A started :class:`WebPushReceiver` on 127.0.0.1."""
    with WebPushReceiver() as r:
        yield r


@pytest.fixture
def queued(monkeypatch):
    """Record ``push_send_task.apply_async`` calls instead of sending them to the broker: ``[(device_id, payload)]``."""
    calls = []

    def fake(args=None, kwargs=None, **options):
        calls.append(tuple(args))

    monkeypatch.setattr(push_send_task, "apply_async", fake)
    return calls
