"""Place, taken over from geo without touching its rows (state only; the table is still ``geo_place``)."""

import django.contrib.gis.db.models.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("geo", "0003_place_moved_to_places"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Place",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "osm_type",
                            models.CharField(
                                choices=[("node", "Node"), ("way", "Way"), ("relation", "Relation")], max_length=8
                            ),
                        ),
                        ("osm_id", models.BigIntegerField()),
                        ("name", models.CharField(max_length=255)),
                        (
                            "category",
                            models.CharField(
                                db_index=True, help_text="OSM key=value, e.g. amenity=cafe.", max_length=300
                            ),
                        ),
                        ("tags", models.JSONField(blank=True, default=dict)),
                        ("location", django.contrib.gis.db.models.fields.PointField(geography=True, srid=4326)),
                        ("address", models.TextField(blank=True, help_text="Formatted from the addr:* tags.")),
                        ("opening_hours", models.CharField(blank=True, max_length=255)),
                        ("website", models.CharField(blank=True, max_length=255)),
                        ("phone", models.CharField(blank=True, max_length=255)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "ordering": ["name", "id"],
                        "constraints": [
                            models.UniqueConstraint(fields=("osm_type", "osm_id"), name="geo_place_osm_unique")
                        ],
                        "db_table": "geo_place",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
