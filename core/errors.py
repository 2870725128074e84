"""The one error shape, for REST and WebSocket alike.

Every error leaves the server as ``{"error": {"code", "message", "fields"?}}``
(DESIGN.md, "Errors and bad input"). Services raise :class:`DomainError`
subclasses; the DRF exception handler and the WebSocket consumer both turn
them, and DRF's own exceptions, into that shape with the right status.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import OperationalError
from django.http import Http404, JsonResponse
from redis.exceptions import RedisError
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain was broken; carries the public error fields.

    ``code`` is a stable snake_case slug clients can switch on, ``message`` a
    human sentence, ``fields`` an optional ``{field: [messages]}`` map and
    ``status`` the HTTP status used over REST.
    """

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or None

    def as_dict(self) -> dict:
        """Return the error body ``{"code", "message", "fields"?}``."""
        return error_body(self.code, self.message, self.fields)


class InvalidInput(DomainError):
    """400: input failed validation."""

    status = 400
    code = "invalid"


class NotFound(DomainError):
    """404: the object does not exist or the caller may not know it exists."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """403: authenticated but not allowed."""

    status = 403
    code = "permission_denied"


class Conflict(DomainError):
    """409: the request conflicts with the current state."""

    status = 409
    code = "conflict"


class RateLimited(DomainError):
    """429: too many requests; ``retry_after`` in seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str = "Too many requests.", *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """Build ``{"code", "message", "fields"?}`` (``fields`` omitted when empty)."""
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def error_response(code: str, message: str, status: int, fields: dict | None = None) -> JsonResponse:
    """A plain Django ``JsonResponse`` in the error shape (used outside DRF)."""
    return JsonResponse({"error": error_body(code, message, fields)}, status=status)


def _flatten(detail) -> object:
    """Turn DRF ``ErrorDetail`` trees into plain strings/lists/dicts."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def validation_fields(detail) -> tuple[str, dict | None]:
    """Split a DRF ValidationError detail into ``(message, fields)``.

    ``non_field_errors`` become the message; other keys become ``fields``.
    """
    flat = _flatten(detail)
    if isinstance(flat, dict):
        non_field = flat.pop("non_field_errors", None)
        message = "Invalid input."
        if non_field:
            message = non_field[0] if isinstance(non_field, list) else str(non_field)
        return message, (flat or None)
    if isinstance(flat, list) and flat:
        return str(flat[0]), None
    return str(flat) or "Invalid input.", None


_DRF_CODES = {
    drf_exceptions.ParseError: "malformed_request",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}


def api_exception_handler(exc, context):
    """DRF ``EXCEPTION_HANDLER``: every error in the one shape.

    Handles :class:`DomainError`, DRF exceptions (validation 400, auth 401,
    permission 403, not found 404, throttled 429 with ``Retry-After``) and
    Django's ``Http404``/``PermissionDenied``. Anything else is logged and
    returned as 500 ``server_error`` without internals.
    """
    if isinstance(exc, DomainError):
        response = Response({"error": exc.as_dict()}, status=exc.status)
        if isinstance(exc, RateLimited) and exc.retry_after:
            response["Retry-After"] = str(int(exc.retry_after + 0.999))
        return response
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, (OperationalError, RedisError)):
        logger.exception("Backing service unavailable in %s", context.get("view"))
        return Response(
            {"error": error_body("service_unavailable", "A backing service is unavailable; retry later.")},
            status=503,
            headers={"Retry-After": "5"},
        )
    response = drf_default_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view"))
        return Response({"error": error_body("server_error", "Internal server error.")}, status=500)

    if isinstance(exc, drf_exceptions.ValidationError):
        message, fields = validation_fields(exc.detail)
        response.data = {"error": error_body("invalid", message, fields)}
        return response

    code = None
    for cls, slug in _DRF_CODES.items():
        if isinstance(exc, cls):
            code = slug
            break
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}.
        message = str(detail.get("detail", "Error."))
        code = str(detail.get("code") or code or "error")
    else:
        message = str(detail) if detail is not None else "Error."
        if code is None:
            codes = exc.get_codes() if hasattr(exc, "get_codes") else None
            code = codes if isinstance(codes, str) else "error"
    response.data = {"error": error_body(code, message)}
    return response


def json_404(request, exception=None):
    """``handler404``: unknown URL in the error shape."""
    return error_response("not_found", "Not found.", 404)


def json_500(request):
    """``handler500``: unhandled error in the error shape."""
    return error_response("server_error", "Internal server error.", 500)


def json_400(request, exception=None):
    """``handler400``: bad request (e.g. SuspiciousOperation) in the error shape."""
    return error_response("bad_request", "Bad request.", 400)


def json_403(request, exception=None):
    """``handler403``: forbidden in the error shape."""
    return error_response("permission_denied", "Permission denied.", 403)
