"""Push delivery: real Web Push requests to a local receiver that decrypts them (RFC 8030/8291), FCM at the SDK edge."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications import push
from notifications.models import Device
from notifications.push import PushResult, WebPushProvider
from notifications.services import notification_send
from notifications.tasks import push_send_task

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "id": 1,
    "type": "message",
    "content": "Hej \u2764",
    "related_kind": "message",
    "related_id": "9",
    "data": {},
}


def register(client, receiver, name="phone"):
    r = client.post("/api/devices", receiver.subscription(name), format="json")
    assert r.status_code == 201, r.content
    return Device.objects.get(pk=r.json()["id"])


def test_webpush_delivers_encrypted_payload(make_user, client_for, vapid, receiver):
    user = make_user()
    device = register(client_for(user), receiver)
    result = push_send_task.apply(args=[device.pk, PAYLOAD])
    assert result.get() == "sent"
    (got,) = receiver.wait_for(1)
    assert got.error is None
    assert got.json == PAYLOAD
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    # VAPID (RFC 8292): a JWT signed with our key, "k" = our public key.
    assert headers["authorization"].startswith("vapid t=") and f"k={vapid[1]}" in headers["authorization"]
    device.refresh_from_db()
    assert device.last_used_at is not None


def test_notification_send_end_to_end_push(make_user, client_for, vapid, receiver, django_capture_on_commit_callbacks):
    """notification_send -> Celery task (eager) -> pywebpush -> receiver decrypts the notification JSON."""
    from config.celery import app

    user = make_user()
    register(client_for(user), receiver, "a")
    register(client_for(user), receiver, "b")
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            item = notification_send(
                user=user, type="message", content="New message", related_kind="message", related_id=5
            )
    finally:
        app.conf.task_always_eager = False
    pushes = receiver.wait_for(2)
    assert sorted(p.name for p in pushes) == ["a", "b"]
    for p in pushes:
        assert p.json["id"] == item.pk and p.json["content"] == "New message" and p.json["related_id"] == "5"
    listed = client_for(user).get("/api/notifications").json()["results"][0]
    assert pushes[0].json == listed  # the push carries the same JSON as the REST API


def test_webpush_gone_deletes_device(make_user, client_for, vapid, receiver):
    device = register(client_for(make_user()), receiver)
    receiver.status = 410
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "gone"
    assert not Device.objects.filter(pk=device.pk).exists()
    receiver.status = 404
    device = register(client_for(make_user()), receiver, "other")
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "gone"
    assert not Device.objects.filter(pk=device.pk).exists()


def test_webpush_server_error_is_retried_with_backoff(make_user, client_for, vapid, receiver, monkeypatch):
    device = register(client_for(make_user()), receiver)
    receiver.status = 500
    countdowns = []
    original = push_send_task.retry

    def spy(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(push_send_task, "retry", spy)
    result = push_send_task.apply(args=[device.pk, PAYLOAD])  # eager: each retry runs at once
    assert result.state == "FAILURE" and isinstance(result.result, push.PushTransientError)
    retries = push_send_task.max_retries
    assert len(receiver.received()) == retries + 1
    assert len(countdowns) == retries + 1  # the last one exceeds max_retries
    # Exponential backoff with full jitter: attempt n waits at most factor * 2^n (capped).
    for n, countdown in enumerate(countdowns):
        assert 0 <= countdown <= min(push_send_task.retry_backoff * 2**n, push_send_task.retry_backoff_max)
    assert Device.objects.filter(pk=device.pk).exists()  # transient: the device stays


def test_webpush_retry_then_success(make_user, client_for, vapid, receiver):
    device = register(client_for(make_user()), receiver)
    receiver.next_statuses = [503]  # first attempt fails, the retry succeeds
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "sent"
    assert [p.status for p in receiver.received()] == [503, 201]


def test_webpush_permanent_error_not_retried(make_user, client_for, vapid, receiver):
    device = register(client_for(make_user()), receiver)
    receiver.status = 400
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "rejected"
    assert len(receiver.received()) == 1 and Device.objects.filter(pk=device.pk).exists()


def test_webpush_network_error_is_transient(make_user, client_for, vapid, settings):
    from .webpush_receiver import WebPushReceiver

    r = WebPushReceiver()  # never started: its port refuses connections once closed
    body = r.subscription("x")
    r.server.server_close()
    settings.PUSH_TIMEOUT_S = 2
    device = Device.objects.create(
        user=make_user(),
        kind="webpush",
        endpoint=body["endpoint"],
        p256dh=body["keys"]["p256dh"],
        auth=body["keys"]["auth"],
    )
    with pytest.raises(push.PushTransientError):
        WebPushProvider().send(device, PAYLOAD)


def test_webpush_disabled_without_vapid(make_user, client_for, receiver, settings, caplog):
    settings.PUSH_ALLOW_INSECURE_ENDPOINTS = True
    settings.PUSH_VAPID_PRIVATE_KEY = ""
    device = register(client_for(make_user()), receiver)
    push._log_disabled_once.cache_clear()
    with caplog.at_level("WARNING", logger="notifications.push"):
        assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "disabled"
        assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "disabled"
    lines = [r.getMessage() for r in caplog.records if "disabled" in r.getMessage()]
    assert len(lines) == 1 and "PUSH_VAPID_PRIVATE_KEY" in lines[0]
    assert receiver.received() == []


def test_missing_device_is_skipped():
    assert push_send_task.apply(args=[987654321, PAYLOAD]).get() == "missing"


# --- FCM: the SDK's network edge replaced -------------------------------------------------------


@pytest.fixture
def fcm_credentials(tmp_path, settings):
    """A syntactically valid service-account file with a fresh RSA key (no network is used)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path / "fcm.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "rendezvous-test",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "push@rendezvous-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    settings.PUSH_FCM_CREDENTIALS = str(path)
    yield path
    import firebase_admin

    try:
        firebase_admin.delete_app(firebase_admin.get_app("rendezvous-push"))
    except ValueError:
        pass


@pytest.fixture
def fcm_send(monkeypatch):
    """Replace ``firebase_admin.messaging.send``; ``fcm_send.outcome`` is returned or raised."""
    from firebase_admin import messaging

    class Fake:
        outcome = "projects/rendezvous-test/messages/1"
        sent: list = []

        def __call__(self, message, dry_run=False, app=None):
            self.sent.append((message, app))
            if isinstance(self.outcome, Exception):
                raise self.outcome
            return self.outcome

    fake = Fake()
    fake.sent = []
    monkeypatch.setattr(messaging, "send", fake)
    return fake


def fcm_device(make_user):
    return Device.objects.create(user=make_user(), kind="fcm", token="fcm-token-1")


def test_fcm_sends_message(make_user, fcm_credentials, fcm_send):
    device = fcm_device(make_user)
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "sent"
    ((message, app),) = fcm_send.sent
    assert message.token == "fcm-token-1"
    assert message.notification.body == PAYLOAD["content"]
    assert message.data["type"] == "message" and message.data["id"] == "1" and message.data["data"] == "{}"
    assert all(isinstance(v, str) for v in message.data.values())  # FCM data values must be strings
    assert app.name == "rendezvous-push" and app.project_id == "rendezvous-test"


def test_fcm_unregistered_deletes_device(make_user, fcm_credentials, fcm_send):
    from firebase_admin import exceptions, messaging

    device = fcm_device(make_user)
    fcm_send.outcome = messaging.UnregisteredError("Requested entity was not found.")
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "gone"
    assert not Device.objects.filter(pk=device.pk).exists()
    device = fcm_device(make_user)
    fcm_send.outcome = exceptions.NotFoundError("not found")
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "gone"


def test_fcm_unavailable_is_retried(make_user, fcm_credentials, fcm_send):
    from firebase_admin import exceptions

    device = fcm_device(make_user)
    fcm_send.outcome = exceptions.UnavailableError("try later")
    result = push_send_task.apply(args=[device.pk, PAYLOAD])
    assert result.state == "FAILURE" and isinstance(result.result, push.PushTransientError)
    assert len(fcm_send.sent) == push_send_task.max_retries + 1
    assert Device.objects.filter(pk=device.pk).exists()


def test_fcm_invalid_argument_rejected(make_user, fcm_credentials, fcm_send):
    from firebase_admin import exceptions

    device = fcm_device(make_user)
    fcm_send.outcome = exceptions.InvalidArgumentError("bad token format")
    assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "rejected"
    assert len(fcm_send.sent) == 1


def test_fcm_disabled_without_credentials(make_user, settings, caplog, fcm_send):
    settings.PUSH_FCM_CREDENTIALS = ""
    device = fcm_device(make_user)
    push._log_disabled_once.cache_clear()
    with caplog.at_level("WARNING", logger="notifications.push"):
        assert push_send_task.apply(args=[device.pk, PAYLOAD]).get() == "disabled"
    assert any("PUSH_FCM_CREDENTIALS" in r.getMessage() for r in caplog.records)
    assert fcm_send.sent == []


def test_provider_interface():
    assert isinstance(push.provider_for("webpush"), push.PushProvider)
    assert isinstance(push.provider_for("fcm"), push.PushProvider)
    assert PushResult("sent").status == "sent"
