"""HTTP middleware: request body limits (413) and JSON errors in every mode.

Two layers enforce the body limits (bytes, from settings):
``UPLOAD_MAX_BYTES`` + 64 KiB for ``multipart/form-data``,
``REQUEST_MAX_BODY_BYTES`` for anything else.

* :class:`BodySizeLimitASGIMiddleware` wraps the ASGI app, in front of
  Django's ASGI handler (which reads the whole body before any Django
  middleware runs): a declared ``Content-Length`` over the limit is refused
  before one body byte is read, and a chunked body is counted while it is
  read and refused as soon as it passes the limit. An accepted chunked body
  is handed on with its real ``Content-Length``, so it is never mistaken for
  an empty one.
* :class:`BodySizeLimitMiddleware` (Django, sync and async) applies the same
  limits to the declared ``Content-Length`` and, for a body without one, to
  the bytes actually received, and fills in ``CONTENT_LENGTH`` for it.

:class:`JsonErrorsMiddleware` answers a bad ``Host`` with 400 and turns
Django's HTML 400/404 debug pages into the one error shape, so DEBUG never
prints settings to a stranger; :func:`csrf_failure` is ``CSRF_FAILURE_VIEW``.
"""

from __future__ import annotations

import json

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost

from .errors import error_body, error_response

# Room for multipart boundaries and the other form fields around one upload.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def body_limit(content_type: str) -> int:
    """The body size limit in bytes for a request of ``content_type``."""
    if content_type.lower().startswith("multipart/form-data"):
        return settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
    return settings.REQUEST_MAX_BODY_BYTES


def _too_large_message(size: int | None, limit: int) -> str:
    if size is None:
        return f"Request body exceeds the limit of {limit} bytes."
    return f"Request body of {size} bytes exceeds the limit of {limit} bytes."


class BodySizeLimitASGIMiddleware:
    """ASGI wrapper: refuse oversized HTTP bodies with 413 while (or before) reading them.

    ``BodySizeLimitASGIMiddleware(app)``; only ``http`` scopes are inspected.
    Answers 400 ``bad_request`` for a non-numeric ``Content-Length`` and 413
    ``payload_too_large`` (error shape) past :func:`body_limit`; the server
    then closes the connection without reading the rest of the body.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """Pass ``scope`` on, bounding its request body."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope.get("headers") or []
        content_type = ""
        declared = None
        for name, value in headers:
            if name == b"content-length":
                declared = value
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        limit = body_limit(content_type)
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return await self._refuse(send, 400, "bad_request", "Content-Length is not a number.")
            if length > limit:
                return await self._refuse(send, 413, "payload_too_large", _too_large_message(length, limit))
            return await self.app(scope, receive, send)

        # No Content-Length (chunked or no body): read and count, stop at the limit.
        messages = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await self._refuse(send, 413, "payload_too_large", _too_large_message(None, limit))
            messages.append(message)
            if not message.get("more_body", False):
                break
        if size:
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            rest = [m for m in messages if m["type"] != "http.request"]
            messages = [{"type": "http.request", "body": body, "more_body": False}, *rest]
            scope = {**scope, "headers": [*headers, (b"content-length", str(size).encode())]}
        queue = list(messages)

        async def replay():
            if queue:
                return queue.pop(0)
            return await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": error_body(code, message)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """Refuse oversized request bodies with 413 before a view parses them (sync and async).

    Checks the declared ``Content-Length`` against :func:`body_limit`. A body
    that arrived without one (chunked) is measured: over the limit it is 413,
    otherwise ``CONTENT_LENGTH`` is set to its size so parsers read it instead
    of treating it as empty. 400 ``bad_request`` for a non-numeric length.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.check(request) or self.get_response(request)

    async def __acall__(self, request):
        return self.check(request) or await self.get_response(request)

    @staticmethod
    def _received_size(request) -> int | None:
        stream = getattr(request, "_stream", None)
        if stream is None or not hasattr(stream, "seek") or not hasattr(stream, "tell"):
            return None
        try:
            here = stream.tell()
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(here)
        except (OSError, ValueError, AttributeError):
            return None
        return size

    def check(self, request):
        """The 400/413 response for ``request``'s body, or ``None`` when it is within its limit."""
        limit = body_limit(request.META.get("CONTENT_TYPE", ""))
        raw = request.META.get("CONTENT_LENGTH")
        if raw:
            try:
                length = int(raw)
            except ValueError:
                return error_response("bad_request", "Content-Length is not a number.", 400)
            if length > limit:
                return error_response("payload_too_large", _too_large_message(length, limit), 413)
            return None
        size = self._received_size(request)
        if size:
            if size > limit:
                return error_response("payload_too_large", _too_large_message(size, limit), 413)
            request.META["CONTENT_LENGTH"] = str(size)
        return None


class JsonErrorsMiddleware:
    """Outermost middleware: JSON errors for a bad ``Host`` and for Django's HTML 400/404 pages (sync and async).

    * ``Host`` not in ``ALLOWED_HOSTS``: 400 ``bad_request`` before anything
      else runs (Django's DEBUG page for it prints the settings);
    * an HTML 400 or 404 (the DEBUG technical pages): replaced by
      ``{"error": {"code": "bad_request"|"not_found", ...}}``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.host_error(request) or self.as_json(self.get_response(request))

    async def __acall__(self, request):
        return self.host_error(request) or self.as_json(await self.get_response(request))

    @staticmethod
    def host_error(request):
        """400 ``bad_request`` when ``request``'s Host is not allowed, else ``None``."""
        try:
            request.get_host()
        except DisallowedHost:
            return error_response("bad_request", "Invalid Host header.", 400)
        return None

    @staticmethod
    def as_json(response):
        """``response``, or the error shape in place of an HTML 400/404 page."""
        if response.status_code in (400, 404) and response.get("Content-Type", "").startswith("text/html"):
            if response.status_code == 404:
                return error_response("not_found", "Not found.", 404)
            return error_response("bad_request", "Bad request.", 400)
        return response


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: 403 ``csrf_failed`` in the error shape (``reason`` is Django's explanation)."""
    return error_response("csrf_failed", f"CSRF verification failed: {reason or 'no reason given'}.", 403)
