"""Transport-neutral input validation: one serializer, the same errors over REST and the socket."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from .errors import InvalidInput, validation_fields


def validated(serializer_class: type[serializers.Serializer], data, *, context: dict | None = None) -> dict:
    """Validate ``data`` (a mapping) with ``serializer_class``; return its ``validated_data``.

    Views and socket handlers both call this and pass the clean values to a
    service, so a field is parsed once, the same way, whatever the transport.
    Raises :class:`core.errors.InvalidInput` (400 ``invalid`` with
    ``fields``) when ``data`` is not an object or fails validation.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput("Expected a JSON object.")
    serializer = serializer_class(data=data, context=context or {})
    if not serializer.is_valid():
        message, fields = validation_fields(serializer.errors)
        raise InvalidInput(message, fields=fields)
    return serializer.validated_data
