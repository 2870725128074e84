"""Fixtures for the accounts tests: users, URLs, images, throttle rates, media storage."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import PASSWORD

# The endpoints under test, so a typo shows up in one place.
REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"
AUTH_ME = "/api/auth/me"
USERS_ME = "/api/users/me"
SETTINGS = "/api/settings"
PREFERENCES = "/api/users/preferences"
BLOCKED = "/api/users/blocked"
SEARCH = "/api/search"

DEFAULT_ROLES = ["walker", "runner", "driver", "rider", "organizer", "business"]


def block_url(user_id) -> str:
    """``/api/users/<id>/block``."""
    return f"/api/users/{user_id}/block"


def png_bytes(size=(8, 8), *, noise: bool = False, seed: int = 0) -> bytes:
    """A real PNG made with Pillow; ``noise`` makes it incompressible (size ~ 3 bytes/pixel)."""
    image = Image.new("RGB", size, (200, 40, 90))
    if noise:
        rng = random.Random(seed)
        image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(size[0] * size[1])])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def tokens_for(user) -> dict:
    """A fresh ``{"access", "refresh"}`` pair for ``user`` (simplejwt, like the login view)."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@pytest.fixture
def password():
    """The password every factory user has."""
    return PASSWORD


@pytest.fixture
def user(make_user):
    """A plain user with no roles."""
    return make_user()


@pytest.fixture
def api(client_for, user):
    """An ``APIClient`` authenticated as :func:`user`."""
    return client_for(user)


@pytest.fixture
def throttle_rate(monkeypatch):
    """``throttle_rate(ThrottleClass, "2/min")``: DRF reads rates at import, so patch the class."""

    def set_rate(cls, rate: str):
        monkeypatch.setattr(cls, "rate", rate, raising=False)

    return set_rate


@pytest.fixture
def media_root(settings, tmp_path):
    """Store uploads under a per-test directory (FileSystemStorage follows MEDIA_ROOT changes)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def superuser(db):
    """A staff superuser for the admin."""
    from accounts.models import User

    return User.objects.create_superuser(email="root@example.test", username="root", password=PASSWORD)
