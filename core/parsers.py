"""Request body parsers: JSON that never turns a hostile body into a 500."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's ``JSONParser`` that answers 400 ``malformed_request`` for JSON too deep to parse.

    ``json.loads`` recurses once per nesting level, so ``"[" * 1000 + "]" * 1000``
    raises ``RecursionError`` (a 500 in DRF's parser, even unauthenticated).
    That, and any other ``ValueError`` from decoding, becomes ``ParseError``
    (400 ``malformed_request`` in the error shape).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        """Parse ``stream`` as JSON; raises ``ParseError`` for malformed or too deeply nested JSON."""
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
