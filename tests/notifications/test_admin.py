"""The admin of notifications and devices renders for staff and is read-mostly."""

from __future__ import annotations

import pytest

from notifications.models import Device, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, make_user):
    user = make_user(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_changelists_and_change_pages_render(staff, make_user):
    user = make_user()
    n = Notification.objects.create(user=user, type="system", content="hello")
    d = Device.objects.create(user=user, kind="fcm", token="secret-token-value")
    for url in (
        "/admin/notifications/notification/",
        f"/admin/notifications/notification/{n.pk}/change/",
        "/admin/notifications/device/",
        f"/admin/notifications/device/{d.pk}/change/",
        "/admin/notifications/notificationpreference/",
        "/admin/notifications/notificationsettings/",
    ):
        r = staff.get(url)
        assert r.status_code == 200, url
        assert b"secret-token-value" not in r.content
    assert staff.get("/admin/notifications/notification/add/").status_code == 403
    assert staff.get("/admin/notifications/device/add/").status_code == 403
