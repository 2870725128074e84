"""Notification and push settings."""

from .base import env  # noqa: F401
