"""Push delivery behind one interface: :class:`PushProvider` ``send(device, payload) -> PushResult``.

* :class:`WebPushProvider`: Web Push (RFC 8030) with payload encryption
  ``aes128gcm`` (RFC 8188/8291) and VAPID (RFC 8292) through ``pywebpush``;
  keys from ``PUSH_VAPID_PRIVATE_KEY``/``PUSH_VAPID_SUBJECT``.
* :class:`FcmProvider`: Firebase Cloud Messaging through ``firebase-admin``;
  credentials from ``PUSH_FCM_CREDENTIALS``.

A provider whose configuration is missing is *disabled*: it logs one line
(once per process) and answers ``PushResult(status="disabled")``; its devices
are skipped. Outcomes: ``sent``; ``gone`` (the push service says the
subscription or token no longer exists: Web Push 404/410, FCM
``UNREGISTERED``/``NotFound``; the caller deletes the device);
``rejected`` (a permanent error such as 400/403/413: logged, not retried);
``disabled``. Transient failures (network errors, 429, 5xx; FCM
unavailable/internal/quota) raise :class:`PushTransientError`, which the
Celery task retries with exponential backoff.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)

SENT, GONE, REJECTED, DISABLED = "sent", "gone", "rejected", "disabled"


class PushTransientError(Exception):
    """A push failed in a way worth retrying (network, 429, 5xx)."""


@dataclass(frozen=True)
class PushResult:
    """Outcome of one push: ``status`` (``sent``/``gone``/``rejected``/``disabled``) and a short ``detail``."""

    status: str
    detail: str = ""


class PushProvider:
    """Send one payload to one device of its kind."""

    kind: str = ""

    def enabled(self) -> bool:
        """Whether the provider is configured."""
        raise NotImplementedError

    def send(self, device, payload: dict) -> PushResult:
        """Deliver ``payload`` (a JSON object) to ``device``; raises :class:`PushTransientError` to be retried."""
        raise NotImplementedError


@cache
def _log_disabled_once(kind: str, reason: str) -> None:
    logger.warning("push provider %s disabled: %s; %s devices are skipped", kind, reason, kind)


def _payload_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class WebPushProvider(PushProvider):
    """Web Push through ``pywebpush`` (aes128gcm, VAPID)."""

    kind = "webpush"

    def enabled(self) -> bool:
        """True when ``PUSH_VAPID_PRIVATE_KEY`` and ``PUSH_VAPID_SUBJECT`` are set."""
        if settings.PUSH_VAPID_PRIVATE_KEY and settings.PUSH_VAPID_SUBJECT:
            return True
        _log_disabled_once(self.kind, "PUSH_VAPID_PRIVATE_KEY or PUSH_VAPID_SUBJECT is not set")
        return False

    def send(self, device, payload: dict) -> PushResult:
        """POST the encrypted ``payload`` to the device's endpoint (``TTL`` = ``PUSH_WEBPUSH_TTL_S``)."""
        import requests
        from pywebpush import WebPushException, webpush

        if not self.enabled():
            return PushResult(DISABLED)
        subscription = {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
        try:
            webpush(
                subscription_info=subscription,
                data=_payload_bytes(payload),
                vapid_private_key=_vapid_key(settings.PUSH_VAPID_PRIVATE_KEY),
                vapid_claims={"sub": settings.PUSH_VAPID_SUBJECT},
                content_encoding="aes128gcm",
                ttl=int(settings.PUSH_WEBPUSH_TTL_S),
                timeout=float(settings.PUSH_TIMEOUT_S),
                headers={"Urgency": "normal"},
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (404, 410):
                return PushResult(GONE, f"http {status}")
            if status is None or status == 429 or status >= 500:
                raise PushTransientError(f"web push http {status}") from exc
            return PushResult(REJECTED, f"http {status}")
        except requests.RequestException as exc:
            raise PushTransientError(f"web push network error: {type(exc).__name__}") from exc
        return PushResult(SENT)


@cache
def _vapid_key(private_key: str):
    from py_vapid import Vapid

    return Vapid.from_string(private_key=private_key)


class FcmProvider(PushProvider):
    """Firebase Cloud Messaging through ``firebase-admin`` (HTTP v1 API)."""

    kind = "fcm"

    def enabled(self) -> bool:
        """True when ``PUSH_FCM_CREDENTIALS`` names a service-account file."""
        if settings.PUSH_FCM_CREDENTIALS:
            return True
        _log_disabled_once(self.kind, "PUSH_FCM_CREDENTIALS is not set")
        return False

    def _app(self):
        import firebase_admin
        from firebase_admin import credentials

        name = "rendezvous-push"
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            return firebase_admin.initialize_app(credentials.Certificate(settings.PUSH_FCM_CREDENTIALS), name=name)

    def message(self, device, payload: dict):
        """The ``firebase_admin.messaging.Message`` for ``payload``: a notification plus string data."""
        from firebase_admin import messaging

        data = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in payload.items() if v is not None}
        with warnings.catch_warnings():
            # firebase-admin 7.7 deprecates ``token`` in favour of installation ids (``fid``); clients still
            # register with getToken() registration tokens, which the HTTP v1 API keeps accepting.
            warnings.simplefilter("ignore", DeprecationWarning)
            return messaging.Message(
                token=device.token,
                notification=messaging.Notification(title="Rendezvous", body=str(payload.get("content", ""))[:1000]),
                data=data,
            )

    def send(self, device, payload: dict) -> PushResult:
        """Send with ``firebase_admin.messaging.send``; unregistered tokens are ``gone``."""
        from firebase_admin import exceptions, messaging

        if not self.enabled():
            return PushResult(DISABLED)
        try:
            messaging.send(self.message(device, payload), app=self._app())
        except (messaging.UnregisteredError, exceptions.NotFoundError) as exc:
            return PushResult(GONE, type(exc).__name__)
        except (
            exceptions.UnavailableError,
            exceptions.InternalError,
            exceptions.ResourceExhaustedError,
            exceptions.DeadlineExceededError,
            exceptions.UnknownError,
            messaging.QuotaExceededError,
        ) as exc:
            raise PushTransientError(f"fcm {type(exc).__name__}") from exc
        except exceptions.FirebaseError as exc:
            return PushResult(REJECTED, f"fcm {exc.code}")
        return PushResult(SENT)


#: device kind -> provider
PROVIDERS: dict[str, PushProvider] = {"webpush": WebPushProvider(), "fcm": FcmProvider()}


def provider_for(kind: str) -> PushProvider:
    """The provider of a device kind (``KeyError`` for an unknown kind)."""
    return PROVIDERS[kind]
