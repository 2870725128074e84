"""URL helpers."""

from django.urls import re_path


def path_slash_optional(route: str, view, name: str | None = None):
    """A ``re_path`` matching ``route`` with or without a trailing slash.

    ``route`` is a regex body without anchors, e.g. ``r"api/auth/login"``.
    """
    return re_path(rf"^{route}/?$", view, name=name)
