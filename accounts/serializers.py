"""Request and response shapes for accounts endpoints."""

from __future__ import annotations

import unicodedata
from datetime import date

from django.conf import settings
from django.core.validators import FileExtensionValidator, RegexValidator
from django.utils import timezone
from rest_framework import serializers

from core.errors import DomainError

from .models import PROFILE_PHOTO_EXTENSIONS, Block, User, UserSettings

#: Usernames: 3 to 32 letters, digits, ``_``, ``.`` or ``-`` (registration and profile updates alike).
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"


#: Bidirectional formatting characters (LRE..RLO, LRI..PDI, LRM, RLM, ALM): they reorder displayed text.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)] + ["\u200e", "\u200f", "\u061c"]
)
#: Earliest accepted birth date; users must also be at least ``MIN_AGE_YEARS`` old (dates in the future are refused).
BIRTH_DATE_MIN = date(1900, 1, 1)
MIN_AGE_YEARS = 13
#: Shortest ``GET /api/search`` query (after trimming) when no ``role`` narrows the search.
SEARCH_MIN_QUERY = 2


def name_validate(value: str) -> str:
    """Refuse names with control characters (Unicode ``Cc``) or bidi formatting characters.

    Returns ``value`` unchanged; raises ``ValidationError`` (400 ``invalid``).
    Zero-width joiners (U+200C/D) stay allowed: scripts and emoji need them.
    """
    for char in value or "":
        if char in BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            raise serializers.ValidationError(
                f"Control and bidirectional formatting characters are not allowed (U+{ord(char):04X})."
            )
    return value


#: Spaces and the control characters ``str.strip()`` removes (``CharField(trim_whitespace=True)``) before validation.
_NAME_EDGE_WHITESPACE = r" \t\n\x0b\x0c\r\x1c-\x1f\x85"
#: What :func:`name_validate` refuses, as a regex character class: ``Cc`` and :data:`BIDI_CONTROLS`.
_NAME_FORBIDDEN = r"\x00-\x1f\x7f-\x9f" + "".join(f"\\u{ord(c):04x}" for c in sorted(BIDI_CONTROLS))
#: :func:`name_validate` as a pattern (the OpenAPI schema's ``pattern`` for non-blank names; ``""`` is
#: documented separately by ``allow_blank``, so the pattern needs one character to keep ``oneOf`` exclusive).
NAME_PATTERN = rf"^[{_NAME_EDGE_WHITESPACE}]*[^{_NAME_FORBIDDEN}]+[{_NAME_EDGE_WHITESPACE}]*$"


class NameValidator(RegexValidator):
    """:func:`name_validate` as a field validator; drf-spectacular documents it as :data:`NAME_PATTERN`."""

    regex = NAME_PATTERN

    def __call__(self, value):
        name_validate(value)


def birth_date_validate(value: date | None) -> date | None:
    """Accept ``None`` or a date from 1900-01-01 up to ``MIN_AGE_YEARS`` (13) years ago, in UTC.

    Raises ``ValidationError`` (400 ``invalid``) for dates before 1900, in the
    future, or of someone younger than 13.
    """
    if value is None:
        return value
    today = timezone.now().date()
    if value < BIRTH_DATE_MIN:
        raise serializers.ValidationError(f"Birth date must be on or after {BIRTH_DATE_MIN.isoformat()}.")
    if value > today:
        raise serializers.ValidationError("Birth date cannot be in the future.")
    try:
        latest = today.replace(year=today.year - MIN_AGE_YEARS)
    except ValueError:  # 29 February
        latest = today.replace(year=today.year - MIN_AGE_YEARS, day=28)
    if value > latest:
        raise serializers.ValidationError(f"You must be at least {MIN_AGE_YEARS} years old.")
    return value


class PayloadTooLarge(DomainError):
    """413: an upload is over its size limit."""

    status = 413
    code = "payload_too_large"


class UserPublicSerializer(serializers.ModelSerializer):
    """What anyone may see of another user: no email, birth date or position."""

    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name", "full_name", "bio", "profile_photo", "roles", "vehicle_type"]
        read_only_fields = fields


class UserMeSerializer(serializers.ModelSerializer):
    """The caller's own profile (``/api/users/me``, ``/api/auth/me``).

    ``profile_photo`` is an image upload (multipart) of at most
    ``UPLOAD_MAX_BYTES`` (5 MB) named ``.jpg``/``.jpeg``/``.png``/``.gif``/``.webp``;
    ``roles`` are role slugs; ``username`` has the registration format.
    """

    username = serializers.RegexField(USERNAME_PATTERN, max_length=32)
    roles = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=20)
    profile_photo = serializers.ImageField(
        required=False, allow_null=False, validators=[FileExtensionValidator(PROFILE_PHOTO_EXTENSIONS)]
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "username",
            "full_name",
            "bio",
            "profile_photo",
            "birth_date",
            "gender",
            "roles",
            "vehicle_type",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "email", "created_at", "updated_at"]
        extra_kwargs = {"full_name": {"validators": [NameValidator()]}}

    def validate_full_name(self, value):
        """No control or bidi formatting characters (:func:`name_validate`)."""
        return name_validate(value)

    def validate_username(self, value):
        """No control or bidi formatting characters (:func:`name_validate`; the pattern is ASCII anyway)."""
        return name_validate(value)

    def validate_birth_date(self, value):
        """1900-01-01 up to 13 years ago (:func:`birth_date_validate`)."""
        return birth_date_validate(value)

    def validate_profile_photo(self, value):
        """Refuse photos over ``UPLOAD_MAX_BYTES`` with 413."""
        if value.size > settings.UPLOAD_MAX_BYTES:
            raise PayloadTooLarge(f"Profile photo is larger than {settings.UPLOAD_MAX_BYTES} bytes.")
        return value


class RegisterSerializer(serializers.Serializer):
    """``POST /api/auth/register`` body."""

    email = serializers.EmailField(max_length=254)
    username = serializers.RegexField(USERNAME_PATTERN, max_length=32)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    full_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default="", validators=[NameValidator()]
    )

    def validate_username(self, value):
        """No control or bidi formatting characters (:func:`name_validate`)."""
        return name_validate(value)


class LoginSerializer(serializers.Serializer):
    """``POST /api/auth/login`` body."""

    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    """``{"access", "refresh"}`` JWTs."""

    access = serializers.CharField()
    refresh = serializers.CharField()


class AuthResponseSerializer(TokenPairSerializer):
    """Tokens and the caller's profile."""

    user = UserMeSerializer()


class RefreshInputSerializer(serializers.Serializer):
    """``{"refresh"}``: a refresh JWT."""

    refresh = serializers.CharField(max_length=2048)


class FiltersSerializer(serializers.Serializer):
    """``filters`` object: ``show_roles`` lists the roles the viewer wants to see (empty: all).

    Any other key is refused (400) rather than silently dropped.
    """

    show_roles = serializers.ListField(child=serializers.CharField(max_length=32), max_length=20, default=list)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown filter."] for key in unknown})
        return super().to_internal_value(data)


class UserSettingsSerializer(serializers.ModelSerializer):
    """Settings/preferences (seed 000 ``/api/settings``, seed 001 ``/api/users/preferences``).

    ``search_radius_m`` in metres (1..50 000); ages in years (13..120).
    """

    visible_roles = serializers.ListField(child=serializers.CharField(max_length=32), max_length=20, required=False)
    filters = FiltersSerializer(required=False)

    class Meta:
        model = UserSettings
        fields = [*UserSettings.EDITABLE_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]


class BlockSerializer(serializers.ModelSerializer):
    """A block the caller made."""

    user = UserPublicSerializer(source="blocked", read_only=True)

    class Meta:
        model = Block
        fields = ["user", "created_at"]
        read_only_fields = fields


class SearchQuerySerializer(serializers.Serializer):
    """``GET /api/search`` query parameters.

    ``query`` needs at least 2 characters (after trimming) unless ``role``
    narrows the search; a blank or 1-character query alone would list everyone.
    """

    query = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    role = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        """400 ``invalid`` (field ``query``) for a query under ``SEARCH_MIN_QUERY`` characters, unless only ``role``."""
        query = attrs.get("query", "").strip()
        if (query or not attrs.get("role")) and len(query) < SEARCH_MIN_QUERY:
            raise serializers.ValidationError({"query": [f"Search needs at least {SEARCH_MIN_QUERY} characters."]})
        return attrs
