"""Admin for fixes, history and OpenStreetMap places (GIS map widget)."""

from django.contrib.gis import admin

from .models import LocationFix, LocationHistory, Place


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


@admin.register(Place)
class PlaceAdmin(admin.GISModelAdmin):
    """OpenStreetMap points of interest (``manage.py import_osm``); a re-import overwrites edits."""

    list_display = ["name", "category", "osm_type", "osm_id", "address", "updated_at"]
    list_filter = ["osm_type"]
    search_fields = ["name", "category", "address", "=osm_id"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["name", "id"]
