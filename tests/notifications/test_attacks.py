"""Attacks on notifications and push devices (security review): each test failed on the code before its fix."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import override_settings

from notifications.models import Device
from notifications.services import device_register

pytestmark = pytest.mark.django_db(transaction=True)


def _parallel(n, func):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait(timeout=10)
            results.append(func(i))
        except Exception as exc:  # collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


@override_settings(PUSH_MAX_DEVICES_PER_USER=5)
def test_device_cap_holds_under_parallel_registrations(make_user, monkeypatch):
    """``PUSH_MAX_DEVICES_PER_USER`` is a hard cap even when registrations race.

    Before the fix each registration inserted its device, then counted what
    it could see (its own row plus committed ones) and trimmed to the cap:
    parallel transactions did not see each other's rows, so 12 parallel
    registrations left a user with up to 16 devices (5 + 12 - 1) and every
    push fanned out to all of them.
    """
    me = make_user()
    for i in range(5):
        device_register(user=me, kind="fcm", token=f"old-token-{i}")
    original = Device.objects.update_or_create
    inserted = threading.Barrier(12)

    def update_or_create_then_wait(*args, **kwargs):
        """Every registration has inserted its row before any of them trims (the race, made certain)."""
        result = original(*args, **kwargs)
        try:
            inserted.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass  # registrations are serialised (the fix): nobody else can get here meanwhile
        return result

    monkeypatch.setattr(Device.objects, "update_or_create", update_or_create_then_wait)
    results, errors = _parallel(12, lambda i: device_register(user=me, kind="fcm", token=f"new-token-{i}"))
    assert errors == []
    assert Device.objects.filter(user=me).count() == 5
