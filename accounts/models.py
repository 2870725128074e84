"""Users, roles, per-user settings and blocks.

Seeds 000 (User, Settings) and 001 (users, user_preferences).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone

SLUG_LENGTH = 32
#: File extensions a profile photo may have (the content must also be an image Pillow reads).
PROFILE_PHOTO_EXTENSIONS = ["jpg", "jpeg", "png", "gif", "webp"]


class Role(models.Model):
    """A role slug users can hold (``walker``, ``driver``, ...), managed in the admin.

    ``self_assignable``: whether a user may give themself the role through
    ``PATCH /api/users/me``. Roles that vouch for something (``organizer``,
    ``business``) are ``False`` and granted by staff in the admin only
    (docs/privacy.md, "Roles").
    """

    slug = models.SlugField(primary_key=True, max_length=SLUG_LENGTH)
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    self_assignable = models.BooleanField(
        default=True, help_text="Users may give themselves this role; otherwise only staff grant it."
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class Gender(models.TextChoices):
    """Self-described gender; ``""`` means not given."""

    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NON_BINARY = "non_binary", "Non-binary"
    OTHER = "other", "Other"


class VehicleType(models.TextChoices):
    """What a driver or rider travels in (seed 002, SpeedLink)."""

    CAR = "car", "Car"
    MOTORCYCLE = "motorcycle", "Motorcycle"
    BICYCLE = "bicycle", "Bicycle"
    SCOOTER = "scooter", "Scooter"
    OTHER = "other", "Other"


class UserManager(BaseUserManager):
    """Creates users by email; the settings row follows via ``post_save``."""

    use_in_migrations = True

    def _create_user(self, email, username, password, **extra):
        if not email:
            raise ValueError("email is required")
        if not username:
            raise ValueError("username is required")
        email = self.normalize_email(email).lower()
        with transaction.atomic():
            user = self.model(email=email, username=username, **extra)
            user.set_password(password)
            user.save(using=self._db)
        return user

    def create_user(self, email, username, password=None, **extra):
        """Create a regular user."""
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, username, password, **extra)

    def create_superuser(self, email, username, password=None, **extra):
        """Create a staff superuser (``createsuperuser``)."""
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, username, password, **extra)


def profile_photo_path(instance, filename):
    """Upload path ``profile_photos/<user uuid>/<uuid>.<ext>``."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"profile_photos/{instance.pk}/{uuid.uuid4().hex}.{ext}"


class User(AbstractBaseUser, PermissionsMixin):
    """A person on the map. UUID primary key, logs in with ``email``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    username = models.CharField(max_length=32, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    bio = models.TextField(blank=True, max_length=1000)
    profile_photo = models.ImageField(
        upload_to=profile_photo_path,
        blank=True,
        validators=[FileExtensionValidator(PROFILE_PHOTO_EXTENSIONS)],
    )
    birth_date = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=16, choices=Gender.choices, blank=True)
    roles = ArrayField(models.SlugField(max_length=SLUG_LENGTH), default=list, blank=True)
    role_since = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "When the user gave themself each role: {slug: ISO 8601 time}. A self-assigned role gates "
            "visibility only ROLE_VISIBILITY_MIN_AGE_S after that time; a role without an entry "
            "(granted by staff, or held before this field existed) counts at once."
        ),
    )
    vehicle_type = models.CharField(max_length=16, choices=VehicleType.choices, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    is_demo = models.BooleanField(
        default=False, db_index=True, help_text="Created by manage.py seed_users (demo data, shared password)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    class Meta:
        ordering = ["created_at"]
        indexes = [GinIndex(fields=["roles"], name="accounts_user_roles_gin")]

    def __str__(self):
        return self.username

    def clean(self):
        """Store the email lower-cased, as the manager and registration do, so login finds it (admin forms)."""
        super().clean()
        if self.email:
            self.email = self.email.lower()

    @property
    def display_name(self) -> str:
        """``full_name`` when set, else ``username``."""
        return self.full_name or self.username

    def roles_matured(self, now: datetime | None = None) -> frozenset[str]:
        """The roles of this user that count for someone else's ``visible_roles`` (clause 3).

        A role counts once held for ``ROLE_VISIBILITY_MIN_AGE_S`` seconds
        (default 86 400): its ``role_since`` entry (ISO 8601, set when the user
        gave themself the role) is at least that old at ``now`` (default: the
        current time). A role without an entry (staff grant, or held before
        ``role_since`` existed) counts at once; an unreadable entry never counts.
        """
        now = now or timezone.now()
        min_age = timedelta(seconds=settings.ROLE_VISIBILITY_MIN_AGE_S)
        since = self.role_since or {}
        matured = set()
        for slug in self.roles or []:
            stamp = since.get(slug)
            if stamp is None:
                matured.add(slug)
                continue
            try:
                acquired = datetime.fromisoformat(stamp)
            except (TypeError, ValueError):
                continue
            if timezone.is_naive(acquired):
                continue
            if acquired + min_age <= now:
                matured.add(slug)
        return frozenset(matured)


class Pace(models.TextChoices):
    """Preferred walking pace (seed 001, user_preferences.preferred_pace)."""

    SLOW = "slow", "Slow"
    MODERATE = "moderate", "Moderate"
    BRISK = "brisk", "Brisk"
    FAST = "fast", "Fast"


class GenderPreference(models.TextChoices):
    """Which genders a user wants to see in ``/api/users/nearby``."""

    ANY = "any", "Any"
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NON_BINARY = "non_binary", "Non-binary"
    OTHER = "other", "Other"


class Visibility(models.TextChoices):
    """Who may see a user at all (``UserSettings.visibility``; docs/privacy.md, clause 8)."""

    EVERYONE = "everyone", "Everyone the other rules allow"
    CONTACTS = "contacts", "Only my contacts"


def default_filters() -> dict:
    """Default ``filters`` object: no role filter."""
    return {"show_roles": []}


class UserSettings(models.Model):
    """Privacy and matching preferences, one row per user (seed 000 Settings + seed 001 preferences)."""

    #: Fields a user may change (API and admin alike).
    EDITABLE_FIELDS = (
        "location_sharing",
        "visibility",
        "visible_roles",
        "filters",
        "search_radius_m",
        "preferred_pace",
        "age_range_min",
        "age_range_max",
        "gender_preference",
        "keep_location_history",
    )

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="settings")
    location_sharing = models.BooleanField(default=False)
    visibility = models.CharField(
        max_length=16,
        choices=Visibility.choices,
        default=Visibility.EVERYONE,
        help_text="'contacts': only people a contact provider names (walked, met, rode, messaged) see this user.",
    )
    visible_roles = ArrayField(models.SlugField(max_length=SLUG_LENGTH), default=list, blank=True)
    filters = models.JSONField(default=default_filters, blank=True)
    search_radius_m = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(1), MaxValueValidator(50_000)]
    )
    preferred_pace = models.CharField(max_length=16, choices=Pace.choices, blank=True)
    age_range_min = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(13), MaxValueValidator(120)]
    )
    age_range_max = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(13), MaxValueValidator(120)]
    )
    gender_preference = models.CharField(max_length=16, choices=GenderPreference.choices, default=GenderPreference.ANY)
    keep_location_history = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user settings"

    def __str__(self):
        return f"settings of {self.user_id}"

    @property
    def show_roles(self) -> list[str]:
        """The viewer's role filter (``filters.show_roles``); empty means all."""
        value = (self.filters or {}).get("show_roles") or []
        return list(value)


class Block(models.Model):
    """``blocker`` hides from and stops seeing ``blocked``; applies both ways everywhere."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="accounts_block_unique_pair"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="accounts_block_not_self"),
        ]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.blocker_id} blocks {self.blocked_id}"
