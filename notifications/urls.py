"""Routes of notifications and devices (with or without trailing slash)."""

from core.routing import path_slash_optional as p

from . import views

urlpatterns = [
    p(r"api/notifications", views.NotificationListView.as_view(), "notifications"),
    p(r"api/notifications/unread_count", views.UnreadCountView.as_view(), "notifications-unread-count"),
    p(r"api/notifications/mark_read", views.MarkReadView.as_view(), "notifications-mark-read"),
    p(r"api/notifications/mark_all_read", views.MarkAllReadView.as_view(), "notifications-mark-all-read"),
    p(r"api/notifications/preferences", views.PreferencesView.as_view(), "notifications-preferences"),
    p(r"api/devices", views.DeviceListView.as_view(), "devices"),
    p(r"api/devices/(?P<device_id>[0-9]{1,18})", views.DeviceDetailView.as_view(), "device-detail"),
]
