"""Writes for accounts: registration, profile, settings, blocks.

Every change that affects who sees whom sends a domain signal
(``core.signals``) after the transaction commits; geo (the live map) and the
apps that keep memberships receive it. accounts imports no higher app.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import signals
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit

from .models import Block, Role, User, UserSettings
from .selectors import roles_validate, user_get, user_settings_get

#: Settings fields that change what others may see of the user, or what the user sees.
VISIBILITY_FIELDS = {"location_sharing", "visibility", "visible_roles", "filters"}
#: Settings fields that filter ``/api/users/nearby`` on others' hidden attributes (age, gender):
#: changing them is rate-limited by ``THROTTLE_PREFERENCE_CHANGE`` (issue 7, item 10).
PREFERENCE_FIELDS = {"age_range_min", "age_range_max", "gender_preference"}


def _map_changed(*user_ids) -> None:
    for user_id in user_ids:
        signals.visibility_changed.send(sender="accounts", user_id=user_id)


def _block_changed(signal, blocker_id, blocked_id) -> None:
    signal.send(sender="accounts", blocker_id=blocker_id, blocked_id=blocked_id)
    _map_changed(blocker_id, blocked_id)


def user_register(*, email: str, username: str, password: str, full_name: str = "") -> User:
    """Create a user (and its settings row) after Django's password validators.

    Raises :class:`InvalidInput` (400, ``fields.password``) for a weak
    password and :class:`Conflict` (409) when the email or username is taken
    (emails compare case-insensitively).
    """
    email = email.strip().lower()
    candidate = User(email=email, username=username, full_name=full_name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput("Password is too weak.", code="weak_password", fields={"password": list(exc.messages)})
    taken = {}
    if User.objects.filter(email__iexact=email).exists():
        taken["email"] = ["A user with this email already exists."]
    if User.objects.filter(username__iexact=username).exists():
        taken["username"] = ["A user with this username already exists."]
    if taken:
        raise Conflict("Email or username already registered.", code="already_registered", fields=taken)
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, username=username, password=password, full_name=full_name)
    except IntegrityError:
        raise Conflict("Email or username already registered.", code="already_registered")


def role_since_update(
    old_roles, new_roles, role_since: dict | None, *, now: datetime | None = None, staff: bool = False
) -> dict:
    """The ``User.role_since`` map after the roles change from ``old_roles`` to ``new_roles``.

    Roles kept keep their entry; dropped roles lose it. A role the user gives
    themself (``staff=False``) is stamped ``now`` (ISO 8601, default the
    current time), so it gates visibility only ``ROLE_VISIBILITY_MIN_AGE_S``
    later (``User.roles_matured``). A role staff grant (``staff=True``, the
    admin) has no entry: it counts at once. Pure function, no queries.
    """
    now = now or timezone.now()
    since = dict(role_since or {})
    old, new = set(old_roles or []), set(new_roles or [])
    for slug in set(since) - new:
        del since[slug]
    for slug in new - old:
        if staff:
            since.pop(slug, None)
        else:
            since[slug] = now.isoformat()
    return since


def _roles_self_assign_check(old_roles, new_roles) -> None:
    """Raise :class:`Forbidden` (403 ``role_not_self_assignable``) if ``new_roles`` adds a staff-granted role.

    Dropping such a role, or keeping one staff granted, is allowed.
    """
    added = set(new_roles) - set(old_roles or [])
    if not added:
        return
    refused = sorted(Role.objects.filter(slug__in=added, self_assignable=False).values_list("slug", flat=True))
    if refused:
        raise Forbidden(
            f"Only staff can grant the role: {', '.join(refused)}.",
            code="role_not_self_assignable",
            fields={"roles": [f"Granted by staff only: {slug}" for slug in refused]},
        )


def user_update(*, user: User, data: dict) -> User:
    """Update profile fields of ``user`` from validated ``data``.

    ``roles`` must be known role slugs (400 ``unknown_role``), may not add a
    role that is not ``self_assignable`` (403 ``role_not_self_assignable``:
    ``organizer``, ``business`` are granted by staff) and may change at most
    ``THROTTLE_ROLE_CHANGE`` (5/day) times per user (429 ``rate_limited``;
    reordering is not a change). Roles the user adds are stamped in
    ``role_since`` and gate others' ``visible_roles`` only after
    ``ROLE_VISIBILITY_MIN_AGE_S`` (24 h). A new ``username`` must be free
    (409). Role changes refresh the live map.
    """
    roles_changed = False
    if "roles" in data:
        data["roles"] = roles_validate(data["roles"], field="roles")
        roles_changed = set(data["roles"]) != set(user.roles or [])
        if roles_changed:
            _roles_self_assign_check(user.roles, data["roles"])
    if "username" in data and User.objects.filter(username__iexact=data["username"]).exclude(pk=user.pk).exists():
        raise Conflict("Username already taken.", code="already_registered", fields={"username": ["Taken."]})
    if roles_changed:
        rate_limit_hit("role_change", str(user.pk), settings.THROTTLE_ROLE_CHANGE)
        data["role_since"] = role_since_update(user.roles, data["roles"], user.role_since)
    old_photo = user.profile_photo.name if "profile_photo" in data else None
    with transaction.atomic():
        for field, value in data.items():
            setattr(user, field, value)
        user.save()
        if roles_changed:
            transaction.on_commit(lambda: _map_changed(user.pk))
    if old_photo and old_photo != user.profile_photo.name:
        user.profile_photo.storage.delete(old_photo)
    return user


def user_settings_update(*, user: User, data: dict) -> UserSettings:
    """Update the settings of ``user`` from validated ``data``.

    ``visible_roles`` and ``filters.show_roles`` must be known role slugs
    (400); ``age_range_min`` must not exceed ``age_range_max`` (400).
    Changing ``age_range_min``, ``age_range_max`` or ``gender_preference``
    counts against ``THROTTLE_PREFERENCE_CHANGE`` (5/day per user; 429
    ``rate_limited``, nothing saved): those filters match others' hidden age
    and gender, so they may not be probed quickly. Changing sharing,
    ``visibility``, ``visible_roles`` or filters updates the live map.
    """
    row = user_settings_get(user)
    if "visible_roles" in data:
        data["visible_roles"] = roles_validate(data["visible_roles"], field="visible_roles")
    if "filters" in data:
        filters = data["filters"]
        if not isinstance(filters, dict) or set(filters) - {"show_roles"}:
            raise InvalidInput("Unknown filter.", fields={"filters": ["Only 'show_roles' is supported."]})
        filters = {"show_roles": roles_validate(filters.get("show_roles") or [], field="filters.show_roles")}
        data["filters"] = filters
    age_min = data.get("age_range_min", row.age_range_min)
    age_max = data.get("age_range_max", row.age_range_max)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise InvalidInput(
            "age_range_min is greater than age_range_max.",
            fields={"age_range_min": ["Must not exceed age_range_max."]},
        )
    changed = {f for f, v in data.items() if getattr(row, f) != v}
    if changed & PREFERENCE_FIELDS:
        rate_limit_hit("preference_change", str(user.pk), settings.THROTTLE_PREFERENCE_CHANGE)
    with transaction.atomic():
        for field, value in data.items():
            setattr(row, field, value)
        row.save()
        if changed & VISIBILITY_FIELDS:
            # REST reads sharing directly; the next map tick tells live viewers
            # and clears the published cell of a user who stopped sharing.
            transaction.on_commit(lambda: _map_changed(user.pk))
    return row


def block_create(*, blocker: User, blocked_id) -> tuple[Block, bool]:
    """Block ``blocked_id``; returns ``(block, created)``. Idempotent.

    Raises :class:`NotFound` (404) for an unknown user and
    :class:`InvalidInput` (400, ``cannot_block_self``) for oneself. Both
    users' live maps drop each other.
    """
    target = user_get(blocked_id)
    if target is None:
        raise NotFound("User not found.")
    if target.pk == blocker.pk:
        raise InvalidInput("You cannot block yourself.", code="cannot_block_self")
    with transaction.atomic():
        block, created = Block.objects.get_or_create(blocker=blocker, blocked=target)
        if created:
            transaction.on_commit(lambda: _block_changed(signals.block_created, blocker.pk, target.pk))
    return block, created


def block_delete(*, blocker: User, blocked_id) -> None:
    """Remove the block ``blocker`` made on ``blocked_id`` (a user id, UUID or its string).

    Raises :class:`NotFound` (404 ``not_blocked``, message "This user is not
    blocked.") whenever there is no such block: for a real user the caller
    has not blocked, a random id and a malformed id alike, so the answer never
    tells whether an account exists (issue 7, item 12). No user lookup: one
    ``DELETE`` on the caller's own blocks decides, the same query for every id.
    Both users' live maps are refreshed after commit.
    """
    try:
        blocked_uuid = blocked_id if isinstance(blocked_id, uuid.UUID) else uuid.UUID(str(blocked_id))
    except (TypeError, ValueError):
        raise NotFound("This user is not blocked.", code="not_blocked")
    with transaction.atomic():
        deleted, _ = Block.objects.filter(blocker=blocker, blocked_id=blocked_uuid).delete()
        if not deleted:
            raise NotFound("This user is not blocked.", code="not_blocked")
        transaction.on_commit(lambda: _block_changed(signals.block_deleted, blocker.pk, blocked_uuid))


#: User fields whose change by staff must refresh who sees whom.
STAFF_VISIBILITY_FIELDS = {"roles", "is_active"}


def user_staff_saved(*, user: User, changed: set[str]) -> None:
    """Tell the live system about a staff edit of ``user`` (Django admin ``save_model``/``save_formset``).

    ``changed``: names of the changed ``User``/``UserSettings`` fields.
    After commit: a change of roles, activity, sharing, ``visible_roles`` or
    filters sends ``core.signals.visibility_changed`` (the live map re-diffs
    and re-queues the user, as for the user's own edits); deactivating a user
    also sends ``core.signals.user_deactivated`` (apps end memberships) and
    closes every socket of the user (4403 ``session_ended``). Raises nothing.
    """
    from realtime.sessions import session_sockets_close

    if changed & (STAFF_VISIBILITY_FIELDS | VISIBILITY_FIELDS):
        transaction.on_commit(lambda: _map_changed(user.pk))
    if "is_active" in changed and not user.is_active:
        transaction.on_commit(lambda: signals.user_deactivated.send(sender="accounts", user_id=user.pk))
        session_sockets_close(user_id=user.pk, family=None, message="Account deactivated.")
