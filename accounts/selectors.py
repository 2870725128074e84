"""Reads for accounts: roles, blocks, contacts, profile search.

The location visibility rule lives in ``geo.selectors``; search applies its
non-location parts (blocks both ways, the target's ``visible_roles`` against
the viewer's matured roles, the ``contacts`` visibility level).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from core.errors import InvalidInput

from .models import Block, Role, User, UserSettings, Visibility

#: Contact providers: ``name -> provider(user_id) -> iterable of user ids``.
CONTACT_PROVIDERS: dict[str, Callable[[object], Iterable]] = {}


def contact_provider(name: str):
    """Register ``provider(user_id) -> iterable of user ids`` who are contacts of ``user_id``.

    A contact is someone the user has walked with, met, ridden with or
    exchanged direct messages with; walks, meetups, parties and messaging
    each register one in their ``AppConfig.ready()`` (re-exported as
    ``geo.selectors.contact_provider``). Users whose
    ``UserSettings.visibility`` is ``contacts`` are visible only to their
    contacts (docs/privacy.md, clause 8). The relationship must hold both
    ways (if B is A's contact, A is B's), and a provider should be one
    indexed query; it may carry its SQL form (``provider.sql``, as for
    ``geo.selectors.exact_position_provider``). Registering the same
    ``name`` twice raises ``RuntimeError``.
    Today none is registered, so a ``contacts`` user is visible to nobody.
    """

    def register(func):
        if name in CONTACT_PROVIDERS:
            raise RuntimeError(f"contact provider {name!r} registered twice")
        CONTACT_PROVIDERS[name] = func
        return func

    return register


def contact_ids_for(user_id) -> frozenset:
    """Contacts of ``user_id``: the union of every registered provider's answer, without the user.

    Returns UUIDs as the providers give them; empty while no provider is
    registered. Blocks are not removed here: the visibility rule applies them
    separately (clause 5) and always wins.
    """
    ids: set = set()
    for provider in CONTACT_PROVIDERS.values():
        ids.update(provider(user_id))
    ids.discard(user_id)
    return frozenset(ids)


def role_slugs() -> set[str]:
    """All role slugs in the ``Role`` table."""
    return set(Role.objects.values_list("slug", flat=True))


def role_list() -> QuerySet[Role]:
    """All roles, ordered by slug."""
    return Role.objects.all()


def roles_validate(slugs, *, field: str = "roles") -> list[str]:
    """Return ``slugs`` de-duplicated in order, or raise :class:`InvalidInput` (400).

    Every slug must exist in the ``Role`` table; ``field`` names the input
    field in the error's ``fields``.
    """
    if not isinstance(slugs, (list, tuple)) or not all(isinstance(s, str) for s in slugs):
        raise InvalidInput("Roles must be a list of role slugs.", fields={field: ["Expected a list of strings."]})
    known = role_slugs()
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown role: {', '.join(sorted(set(unknown)))}.",
            code="unknown_role",
            fields={field: [f"Unknown role slug: {s}" for s in sorted(set(unknown))]},
        )
    return list(dict.fromkeys(slugs))


def user_settings_get(user: User) -> UserSettings:
    """The settings row of ``user`` (created with the user; re-created if missing)."""
    settings_row, _ = UserSettings.objects.get_or_create(user=user)
    return settings_row


def user_get(user_id) -> User | None:
    """An active user by id, or ``None`` (also for a malformed id)."""
    try:
        return User.objects.filter(pk=user_id, is_active=True).first()
    except (ValueError, TypeError, DjangoValidationError):  # malformed UUID
        return None


def block_blocked_ids(user_id) -> set:
    """Ids of users in a block with ``user_id`` in either direction (UUIDs)."""
    pairs = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list("blocker_id", "blocked_id")
    ids = set()
    for blocker, blocked in pairs:
        ids.add(blocked if blocker == user_id else blocker)
    ids.discard(user_id)
    return ids


def block_list(user: User) -> QuerySet[Block]:
    """Blocks ``user`` made, newest first, with the blocked user loaded."""
    return Block.objects.filter(blocker=user).select_related("blocked")


def user_search(viewer: User, *, query: str = "", role: str | None = None) -> QuerySet[User]:
    """Users matching ``query`` in full name, username, bio or role slug, and ``role`` if given.

    Excludes the viewer, inactive users, anyone in a block with the viewer
    (either way), anyone whose ``visible_roles`` is non-empty and shares no
    role with the viewer's *matured* roles (``User.roles_matured``: a role
    claimed less than ``ROLE_VISIBILITY_MIN_AGE_S`` ago does not count), and
    anyone whose ``visibility`` is ``contacts`` unless a contact provider
    names them as the viewer's contact. Never touches positions. Ordered by
    username.
    """
    qs = User.objects.filter(is_active=True).exclude(pk=viewer.pk)
    blocked = block_blocked_ids(viewer.pk)
    if blocked:
        qs = qs.exclude(pk__in=blocked)
    matured = sorted(viewer.roles_matured())
    qs = qs.filter(Q(settings__visible_roles__len=0) | Q(settings__visible_roles__overlap=matured))
    contacts = list(contact_ids_for(viewer.pk))
    qs = qs.filter(Q(settings__visibility=Visibility.EVERYONE) | Q(pk__in=contacts))
    query = (query or "").strip()
    if query:
        words = query.split()
        for word in words:
            qs = qs.filter(
                Q(full_name__icontains=word)
                | Q(username__icontains=word)
                | Q(bio__icontains=word)
                | Q(roles__contains=[word.lower()])
            )
    if role:
        qs = qs.filter(roles__contains=[role])
    return qs.order_by("username")
