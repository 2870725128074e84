"""The one error shape, for REST and WebSocket alike.

Every error leaves the server as ``{"error": {"code", "message", "fields"?}}``
(DESIGN.md, "Errors and bad input"). Services raise :class:`DomainError`
subclasses; the DRF exception handler and the WebSocket consumer both turn
them, and DRF's own exceptions, into that shape with the right status.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
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


class Unauthorized(DomainError):
    """401: no valid credentials (missing, forged or expired token)."""

    status = 401
    code = "not_authenticated"


class ServiceUnavailable(DomainError):
    """503: a backing service (PostgreSQL, Redis) is unavailable; retry after ``retry_after`` seconds."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str = "A backing service is unavailable; retry later.", *, retry_after=5, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


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


#: Retry-After (seconds) sent with 503 ``service_unavailable``.
SERVICE_RETRY_AFTER_S = 5


def error_for_exception(exc: BaseException) -> tuple[int, dict, float | None] | None:
    """Map any exception to ``(status, error body, retry_after seconds or None)``, or ``None`` if unknown.

    The one mapping used by the REST handler (:func:`api_exception_handler`)
    and the socket consumer (``realtime.consumer``), so both answer the same
    code for the same failure:

    * :class:`DomainError` subclasses: their own status and code
      (429 ``rate_limited`` and 503 keep ``retry_after``);
    * DRF ``ValidationError``: 400 ``invalid`` with ``fields``; other DRF
      exceptions: their status with a stable code (``_DRF_CODES``), a
      ``Throttled`` keeps its wait as ``retry_after``;
    * Django ``Http404`` / ``PermissionDenied``: 404 / 403;
    * a database ``OperationalError``/``InterfaceError`` or any ``RedisError``
      (an outage): 503 ``service_unavailable`` with ``retry_after`` 5 s.

    Anything else returns ``None``: the caller logs it and answers 500
    ``server_error`` without internals.
    """
    if isinstance(exc, DomainError):
        return exc.status, exc.as_dict(), getattr(exc, "retry_after", None)
    if isinstance(exc, (OperationalError, InterfaceError, RedisError)):
        return (
            503,
            error_body("service_unavailable", "A backing service is unavailable; retry later."),
            float(SERVICE_RETRY_AFTER_S),
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if not isinstance(exc, drf_exceptions.APIException):
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        message, fields = validation_fields(exc.detail)
        return exc.status_code, error_body("invalid", message, fields), None
    code = None
    for cls, slug in _DRF_CODES.items():
        if isinstance(exc, cls):
            code = slug
            break
    detail = exc.detail
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}.
        message = str(detail.get("detail", "Error."))
        code = str(detail.get("code") or code or "error")
    else:
        message = str(detail) if detail is not None else "Error."
        if code is None:
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else "error"
    retry_after = getattr(exc, "wait", None) if isinstance(exc, drf_exceptions.Throttled) else None
    return exc.status_code, error_body(code, message), retry_after


def api_exception_handler(exc, context):
    """DRF ``EXCEPTION_HANDLER``: every error in the one shape, through :func:`error_for_exception`.

    Sets ``Retry-After`` (whole seconds, rounded up) on 429 and 503, keeps
    DRF's ``WWW-Authenticate`` on 401. Anything unknown is logged and
    returned as 500 ``server_error`` without internals.
    """
    mapped = error_for_exception(exc)
    if mapped is None:
        logger.exception("Unhandled error in %s", context.get("view"))
        return Response({"error": error_body("server_error", "Internal server error.")}, status=500)
    status, body, retry_after = mapped
    if status == 503:
        logger.warning("Backing service unavailable in %s: %r", context.get("view"), exc)
    headers = {}
    if retry_after:
        headers["Retry-After"] = str(int(retry_after + 0.999))
    if isinstance(exc, drf_exceptions.APIException):
        drf_response = drf_default_handler(exc, context)
        if drf_response is not None:
            for name in ("WWW-Authenticate",):
                if name in drf_response:
                    headers[name] = drf_response[name]
    return Response({"error": body}, status=status, headers=headers)


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
