"""Messaging settings (sizes in bytes and characters, rates "N/period"; docs/messaging.md)."""

from .base import env

#: Longest message body (characters, after stripping surrounding whitespace).
MESSAGE_MAX_CHARS = env.int("MESSAGE_MAX_CHARS", default=4000)
#: Largest image upload with a message (bytes, before re-encoding); also bounded by UPLOAD_MAX_BYTES.
MESSAGE_IMAGE_MAX_BYTES = env.int("MESSAGE_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
#: Largest decoded image (pixels, width x height): refuses decompression bombs before decoding.
MESSAGE_IMAGE_MAX_PIXELS = env.int("MESSAGE_IMAGE_MAX_PIXELS", default=40_000_000)
#: Longest side of a stored image (pixels); larger images are scaled down when re-encoded.
MESSAGE_IMAGE_MAX_SIDE_PX = env.int("MESSAGE_IMAGE_MAX_SIDE_PX", default=4096)
#: Messages (REST and socket together) one user may send per window.
MESSAGE_SEND_RATE = env("MESSAGE_SEND_RATE", default="60/min")
#: ``typing`` frames one user may send per window (over it: ``rate_limited``; nothing is relayed).
MESSAGE_TYPING_RATE = env("MESSAGE_TYPING_RATE", default="60/min")
#: A ``user:typing`` is_typing=true expires after this many seconds without a refresh (server sends false).
MESSAGE_TYPING_TTL_S = env.float("MESSAGE_TYPING_TTL_S", default=5.0)
#: Reports one user may file per window.
MESSAGE_REPORT_RATE = env("MESSAGE_REPORT_RATE", default="20/hour")
#: Page size of message histories (``?limit=`` up to MESSAGE_PAGE_MAX).
MESSAGE_PAGE_SIZE = env.int("MESSAGE_PAGE_SIZE", default=50)
MESSAGE_PAGE_MAX = env.int("MESSAGE_PAGE_MAX", default=100)
#: Longest ``client_msg_id`` (characters).
MESSAGE_CLIENT_ID_MAX_CHARS = 64
