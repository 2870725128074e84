"""App config of the test-only room app."""

from django.apps import AppConfig


class RoomAppConfig(AppConfig):
    """Declares the ``testroom`` room kind (``tests/roomapp/realtime.py``)."""

    name = "tests.roomapp"
    label = "roomapp"
