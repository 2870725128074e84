"""Points of interest imported from OpenStreetMap (seed 001 places)."""

from django.contrib.gis.db import models


class Place(models.Model):
    """A point of interest imported from OpenStreetMap (seed 001 ``/api/places/nearby``).

    Identified by ``osm_type`` + ``osm_id`` (an OSM id is unique only within
    its type). ``category`` is the OSM key and value that made it a POI
    (``amenity=cafe``, ``shop=bakery``; ``places.osm.POI_KEYS``); ``tags`` holds
    every OSM tag. ``location`` is a WGS84 point: the node itself, or the
    centroid of a way or multipolygon. ``address`` is formatted from the
    ``addr:*`` tags. Written only by ``places.osm.place_import_osm``.
    """

    class OsmType(models.TextChoices):
        """The OSM element type the place was read from."""

        NODE = "node", "Node"
        WAY = "way", "Way"
        RELATION = "relation", "Relation"

    osm_type = models.CharField(max_length=8, choices=OsmType.choices)
    osm_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    category = models.CharField(max_length=300, db_index=True, help_text="OSM key=value, e.g. amenity=cafe.")
    tags = models.JSONField(default=dict, blank=True)
    location = models.PointField(geography=True, srid=4326)
    address = models.TextField(blank=True, help_text="Formatted from the addr:* tags.")
    opening_hours = models.CharField(max_length=255, blank=True)
    website = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["osm_type", "osm_id"], name="geo_place_osm_unique")]

    def __str__(self):
        return f"{self.name} ({self.category})"
