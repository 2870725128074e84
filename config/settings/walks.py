"""Walks, meet-now, introductions, meetups, proximity alerts (units: seconds, metres)."""

from .base import env  # noqa: F401
