"""Notification and push settings (docs/notifications.md; every variable is in ``.env.example``).

Push: Web Push needs a VAPID key pair (``manage.py push_vapid_keys`` prints
one) and a subject (``mailto:`` or ``https:`` contact, RFC 8292); FCM needs
the path of a service-account JSON file. Either one unset disables that
provider with one log line; its devices are skipped.
"""

import os

from .base import env

#: Longest notification text (characters); longer content is cut with an ellipsis.
NOTIFICATION_CONTENT_MAX_CHARS = env.int("NOTIFICATION_CONTENT_MAX_CHARS", default=1000)
#: Page size of ``GET /api/notifications`` (``?limit=`` up to ``NOTIFICATION_PAGE_MAX``).
NOTIFICATION_PAGE_SIZE = env.int("NOTIFICATION_PAGE_SIZE", default=20)
NOTIFICATION_PAGE_MAX = env.int("NOTIFICATION_PAGE_MAX", default=100)
#: At most this many ids in one ``POST /api/notifications/mark_read``.
NOTIFICATION_MARK_READ_MAX_IDS = env.int("NOTIFICATION_MARK_READ_MAX_IDS", default=500)

#: Web Push VAPID key pair (base64url raw keys as printed by ``manage.py push_vapid_keys``) and subject.
PUSH_VAPID_PRIVATE_KEY = env("PUSH_VAPID_PRIVATE_KEY", default="")
PUSH_VAPID_PUBLIC_KEY = env("PUSH_VAPID_PUBLIC_KEY", default="")
PUSH_VAPID_SUBJECT = env("PUSH_VAPID_SUBJECT", default="")
#: Web Push message time-to-live at the push service (seconds, RFC 8030 ``TTL``).
PUSH_WEBPUSH_TTL_S = env.int("PUSH_WEBPUSH_TTL_S", default=86400)
#: Firebase service-account JSON path; unset disables FCM.
PUSH_FCM_CREDENTIALS = env("PUSH_FCM_CREDENTIALS", default="")
#: HTTP timeout of one push request (seconds).
PUSH_TIMEOUT_S = env.float("PUSH_TIMEOUT_S", default=10.0)
#: Retries of a push after a transient failure (5xx, 429, network), with exponential backoff
#: of PUSH_RETRY_BACKOFF_S, 2x, 4x, ... capped at PUSH_RETRY_BACKOFF_MAX_S (with jitter).
PUSH_MAX_RETRIES = env.int("PUSH_MAX_RETRIES", default=5)
PUSH_RETRY_BACKOFF_S = env.int("PUSH_RETRY_BACKOFF_S", default=10)
PUSH_RETRY_BACKOFF_MAX_S = env.int("PUSH_RETRY_BACKOFF_MAX_S", default=600)
#: Celery queue of push tasks ("" = Celery's default queue).
PUSH_TASK_QUEUE = env("PUSH_TASK_QUEUE", default="")
#: Accept http:// Web Push endpoints on 127.0.0.1/localhost/[::1] (local receivers of tests only; default
#: false, true under ``config.settings.test``). Every other endpoint must be https.
PUSH_ALLOW_INSECURE_ENDPOINTS = env.bool(
    "PUSH_ALLOW_INSECURE_ENDPOINTS", default=os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings.test"
)
#: At most this many devices per user (the oldest is replaced).
PUSH_MAX_DEVICES_PER_USER = env.int("PUSH_MAX_DEVICES_PER_USER", default=20)
#: Device registrations per user (``POST /api/devices``).
THROTTLE_DEVICE_REGISTER = env("THROTTLE_DEVICE_REGISTER", default="30/hour")
