"""Place moved to the ``places`` app: drop it from geo's state, keep the table and its rows.

``places.0001_initial`` takes the same table over (state only), and
``places.0002`` renames it to ``places_place``.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("geo", "0002_place"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Place")],
            database_operations=[],
        ),
    ]
