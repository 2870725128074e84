"""Messaging settings (sizes in bytes and characters, rates "N/period")."""

from .base import env  # noqa: F401
