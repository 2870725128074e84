"""Admin for OpenStreetMap places (GIS map widget)."""

from django.contrib.gis import admin

from .models import Place


@admin.register(Place)
class PlaceAdmin(admin.GISModelAdmin):
    """OpenStreetMap points of interest (``manage.py import_osm``); a re-import overwrites edits."""

    list_display = ["name", "category", "osm_type", "osm_id", "address", "updated_at"]
    list_filter = ["osm_type"]
    search_fields = ["name", "category", "address", "=osm_id"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["name", "id"]
