"""Admin for fixes and history (GIS map widget)."""

from django.contrib.gis import admin

from .models import LocationFix, LocationHistory


@admin.register(LocationFix)
class LocationFixAdmin(admin.GISModelAdmin):
    """Latest fix per user."""

    list_display = ["user", "recorded_at", "received_at", "cell", "public_cell"]
    raw_id_fields = ["user"]
    readonly_fields = ["received_at", "cell", "public_cell", "public_location", "public_at"]


@admin.register(LocationHistory)
class LocationHistoryAdmin(admin.GISModelAdmin):
    """Kept fixes (only for users with keep_location_history)."""

    list_display = ["user", "recorded_at"]
    raw_id_fields = ["user"]
    date_hierarchy = "recorded_at"
