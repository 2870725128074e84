"""Images: decoded by Pillow, re-encoded, EXIF (GPS) stripped; bad files refused with 400."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image

from messaging.models import Message

from ..conftest import assert_error
from .conftest import jpeg_with_gps

pytestmark = pytest.mark.django_db


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_jpeg_with_gps_exif_is_stored_without_it(trio, client_for):
    alice, bob, _ = trio
    raw = jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the fixture carries GPS
    r = client_for(alice).post(
        "/api/messages", {"receiver_id": str(bob.pk), "image": upload(raw), "message": ""}, format="multipart"
    )
    assert r.status_code == 201, r.content
    m = r.json()
    assert m["image_url"].startswith("/media/messages/") and m["image_url"].endswith(".jpg")
    stored = Message.objects.get(pk=m["id"]).image
    with stored.open("rb") as f:
        data = f.read()
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.size == (64, 48)
    assert not img.getexif() and "exif" not in img.info
    assert b"SpyCam" not in data and b"Exif" not in data


def test_png_and_webp_keep_their_format(trio, client_for):
    alice, bob, _ = trio
    for fmt, ext in (("PNG", "png"), ("WEBP", "webp")):
        buf = io.BytesIO()
        Image.new("RGBA", (10, 10), (1, 2, 3, 128)).save(buf, format=fmt)
        r = client_for(alice).post(
            "/api/messages",
            {"receiver_id": str(bob.pk), "image": upload(buf.getvalue(), f"x.{ext}", f"image/{ext}"), "message": "pic"},
            format="multipart",
        )
        assert r.status_code == 201, r.content
        assert r.json()["image_url"].endswith(f".{ext}")


@pytest.mark.parametrize(
    "data",
    [
        b"not an image at all",
        jpeg_with_gps()[:200],  # truncated
        b"GIF89a" + b"\x00" * 100,
    ],
)
def test_bad_images_are_refused_400(trio, client_for, data):
    alice, bob, _ = trio
    r = client_for(alice).post("/api/messages", {"receiver_id": str(bob.pk), "image": upload(data)}, format="multipart")
    err = assert_error(r, 400, "invalid")
    assert "image" in err["fields"]
    assert Message.objects.count() == 0


def test_gif_is_refused(trio, client_for):
    alice, bob, _ = trio
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, format="GIF")
    r = client_for(alice).post(
        "/api/messages", {"receiver_id": str(bob.pk), "image": upload(buf.getvalue(), "a.gif")}, format="multipart"
    )
    assert_error(r, 400, "invalid")


@override_settings(MESSAGE_IMAGE_MAX_BYTES=100)
def test_image_size_limit(trio, client_for):
    alice, bob, _ = trio
    r = client_for(alice).post(
        "/api/messages", {"receiver_id": str(bob.pk), "image": upload(jpeg_with_gps())}, format="multipart"
    )
    assert_error(r, 400, "invalid")


@override_settings(MESSAGE_IMAGE_MAX_PIXELS=100)
def test_pixel_limit_refuses_before_decoding(trio, client_for):
    alice, bob, _ = trio
    r = client_for(alice).post(
        "/api/messages", {"receiver_id": str(bob.pk), "image": upload(jpeg_with_gps())}, format="multipart"
    )
    assert_error(r, 400, "invalid")


def test_deleting_a_message_removes_its_image(trio, client_for):
    alice, bob, _ = trio
    r = client_for(alice).post(
        "/api/messages", {"receiver_id": str(bob.pk), "image": upload(jpeg_with_gps())}, format="multipart"
    )
    m = Message.objects.get(pk=r.json()["id"])
    assert m.image.storage.exists(m.image.name)
    r = client_for(alice).delete(f"/api/messages/{m.pk}")
    assert r.json()["image_url"] is None
    m.refresh_from_db()
    assert not m.image
