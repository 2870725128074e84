"""Admin of notifications and devices: read-mostly (staff look, filter and delete; they do not author)."""

from django.contrib import admin

from .models import Device, Notification, NotificationPreference, NotificationSettings


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Notifications, newest first; only ``is_read`` can be changed."""

    list_display = ("id", "user", "type", "short_content", "related_kind", "related_id", "is_read", "created_at")
    list_filter = ("type", "is_read", "related_kind")
    search_fields = ("user__email", "content", "related_id")
    date_hierarchy = "created_at"
    raw_id_fields = ("user",)
    list_select_related = ("user",)
    readonly_fields = ("user", "type", "content", "related_kind", "related_id", "data", "created_at")

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:80]

    def has_add_permission(self, request):
        return False


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Push devices; read-only (delete one to stop pushes to it). Keys and tokens are not shown."""

    list_display = ("id", "user", "kind", "endpoint_host", "created_at", "last_used_at")
    list_filter = ("kind",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    list_select_related = ("user",)
    fields = ("user", "kind", "endpoint_host", "created_at", "last_used_at")
    readonly_fields = fields

    @admin.display(description="push service")
    def endpoint_host(self, obj):
        from urllib.parse import urlsplit

        return urlsplit(obj.endpoint).netloc if obj.endpoint else "FCM"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "type", "in_app", "push")
    list_filter = ("type", "in_app", "push")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ("user", "quiet_hours_start", "quiet_hours_end", "time_zone")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
