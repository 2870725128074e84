"""Never log a token: redact ``token=...`` (and ``since=...`` cursors) from server log records.

uvicorn logs each socket handshake with its path and query string
(``"WebSocket /ws/?token=..." [accepted]``) and each HTTP request in its
access log. :func:`token_redaction_install` adds :class:`TokenRedactingFilter`
to those loggers at startup (``RealtimeConfig.ready``), without touching
their handlers (issue 7, finding 11).
"""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"((?:^|[?&\s])(?:token|access|refresh)=)[^&\s\"']+", re.IGNORECASE)
#: Loggers that print request paths.
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "django.request", "django.server", "daphne", "granian")


def token_redact(text: str) -> str:
    """``text`` with the value of every ``token=``/``access=``/``refresh=`` parameter replaced by ``[redacted]``."""
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments so no token value reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = token_redact(record.msg)
        if record.args:
            if isinstance(record.args, tuple):
                record.args = tuple(token_redact(a) if isinstance(a, str) else a for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: token_redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def token_redaction_install() -> None:
    """Add one :class:`TokenRedactingFilter` to each of :data:`REDACTED_LOGGERS` (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
