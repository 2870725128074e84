"""HTTP middleware: request body limits (413 in the error shape)."""

from django.conf import settings

from .errors import error_response

# Room for multipart boundaries and the other form fields around one upload.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimitMiddleware:
    """Refuse oversized request bodies with 413 before anything reads them.

    Limits (bytes, from settings): ``UPLOAD_MAX_BYTES`` + 64 KiB for
    ``multipart/form-data``, ``REQUEST_MAX_BODY_BYTES`` for anything else.
    The declared ``Content-Length`` is checked; a body without one is still
    bounded by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response("bad_request", "Content-Length is not a number.", 400)
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            limit = settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
        else:
            limit = settings.REQUEST_MAX_BODY_BYTES
        if length > limit:
            return error_response(
                "payload_too_large",
                f"Request body of {length} bytes exceeds the limit of {limit} bytes.",
                413,
            )
        return self.get_response(request)
