"""Live location fixes and location history (seed 000 User.current_lat/lng, LocationHistory).

All points are WGS84 (SRID 4326) ``geography`` columns with GiST indexes, so
``ST_DWithin`` radius queries are in metres on the spheroid.
"""

from django.conf import settings
from django.contrib.gis.db import models


class LocationFix(models.Model):
    """The latest fix of one user (one row per user).

    ``location`` is the exact point and is only ever shown to people with an
    exact-precision relationship. ``cell`` is the ~100 m grid cell of
    ``location``; ``public_cell``/``public_location`` are the cell and its
    centre as last published by the map tick (``geo.fanout``), which is what
    strangers see and what stranger radius queries filter on.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="location_fix"
    )
    location = models.PointField(geography=True, srid=4326)
    accuracy_m = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    recorded_at = models.DateTimeField(db_index=True, help_text="Client time of the fix (UTC).")
    received_at = models.DateTimeField(help_text="Server time the fix was stored (UTC).")
    cell = models.CharField(max_length=32, help_text="Grid cell of the exact location (geo.grid).")
    public_cell = models.CharField(max_length=32, blank=True, help_text="Cell as last published by the tick.")
    public_location = models.PointField(geography=True, srid=4326, null=True, blank=True)
    public_at = models.DateTimeField(null=True, blank=True, help_text="When public_cell was last published.")

    class Meta:
        verbose_name = "location fix"

    def __str__(self):
        return f"fix of {self.user_id} at {self.recorded_at:%Y-%m-%d %H:%M:%S}"


class LocationHistory(models.Model):
    """A past fix, kept only for users with ``keep_location_history``; pruned after the retention."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="location_history")
    location = models.PointField(geography=True, srid=4326)
    accuracy_m = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    recorded_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "location history"
        indexes = [models.Index(fields=["user", "-recorded_at"], name="geo_history_user_time")]
        ordering = ["-recorded_at"]

    def __str__(self):
        return f"{self.user_id} at {self.recorded_at:%Y-%m-%d %H:%M:%S}"
