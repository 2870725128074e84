"""Rename ``geo_place`` to ``places_place`` (PostgreSQL keeps rows, indexes and constraints)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("places", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelTable(name="place", table=None),
    ]
