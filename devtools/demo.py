"""Demo users on real streets (``manage.py seed_users``; ``make run`` seeds 200).

:func:`demo_users_seed` creates demo users ``demo1`` ... ``demoN``
(``demo<n>@demo.rendezvous.test``, ``User.is_demo``) with plausible names
(Faker, mostly Finnish and Swedish names as in Helsinki), bios, roles from the
``Role`` table and a realistic mix of privacy settings, and puts each on a
random point of the OpenStreetMap walking network (``places.osm``) through the
normal fix path (``geo.services.location_record``), then runs one map tick.

Determinism: everything about user ``n`` comes from a random generator
seeded with ``(seed, n)``, so a seed always gives the same people, settings,
blocks and positions, and growing ``count`` adds people without changing the
first ones. Idempotency: existing demo users are reused (their profile is left
as it is, their fix refreshed to their seeded position), so a second run with
the same count creates nobody.

The mix (probabilities per user, documented in ``docs/osm.md``): 85 % share
their location (15 % do not), 15 % restrict ``visible_roles``, 5 % set a
``show_roles`` filter, 3 % block an earlier demo user, 10 % keep history.
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models.functions import Lower

from accounts.models import Block, GenderPreference, Pace, Role, User, UserSettings, VehicleType
from geo.services import location_record
from places import osm

#: Demo users' email domain (``.test`` is reserved: these addresses never reach anyone).
DEMO_EMAIL_DOMAIN = "demo.rendezvous.test"
#: Largest ``count`` one call accepts.
MAX_DEMO_USERS = 100_000

#: Probabilities of the settings mix.
P_SHARING = 0.85
P_VISIBLE_ROLES = 0.15
P_SHOW_ROLES = 0.05
P_BLOCK = 0.03
P_HISTORY = 0.10

#: Name locales and their weights (Helsinki: mostly Finnish, some Swedish, some international).
LOCALES = (("fi_FI", 0.70), ("sv_SE", 0.15), ("en_GB", 0.10), ("et_EE", 0.05))
#: Chance of holding each known role; unknown (admin-added) roles get :data:`OTHER_ROLE_P`.
ROLE_P = {"walker": 0.55, "runner": 0.25, "driver": 0.18, "rider": 0.15, "organizer": 0.06, "business": 0.04}
OTHER_ROLE_P = 0.05

ROLE_BIOS = {
    "walker": [
        "Evening walks along the shore, any weather.",
        "Looking for company on long Sunday walks.",
        "Walking the city one district at a time.",
        "Dog walker by morning, museum walker by afternoon.",
    ],
    "runner": [
        "Easy 5 k most mornings around Töölönlahti.",
        "Training for a half marathon, slow and steady.",
        "Trail runner on weekends, park runner on weekdays.",
    ],
    "driver": [
        "Happy to share rides to the archipelago.",
        "Weekend road trips, always room for one more.",
    ],
    "rider": [
        "Cycling to work all year round, studded tyres in winter.",
        "Motorcycle rides when the roads are dry.",
    ],
    "organizer": [
        "I organise board game nights and picnics.",
        "Running a monthly photo walk, everyone welcome.",
    ],
    "business": [
        "Small café owner near the market square.",
        "Running a bike repair shop in Kallio.",
    ],
}
GENERIC_BIOS = [
    "Coffee first.",
    "New in town, say hi!",
    "Sauna enthusiast.",
    "Always up for ice cream by the sea.",
    "Photographer, mostly of seagulls.",
    "Library regular and flea-market hunter.",
    "Learning Finnish, one word at a time.",
    "Summer cottage person.",
]
SEARCH_RADII_M = (500, 1000, 1000, 1000, 2000, 5000)

#: ``progress(done, total)`` during fix recording.
DemoProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoProfile:
    """Everything the seed decides about demo user ``n`` (pure data; positions in degrees)."""

    n: int
    id: uuid.UUID
    email: str
    username: str
    full_name: str
    bio: str
    roles: list[str]
    birth_date: date
    gender: str
    vehicle_type: str
    settings: dict = field(default_factory=dict)
    block_n: int | None = None
    lat: float = 0.0
    lng: float = 0.0


def demo_email(n: int) -> str:
    """Email of demo user ``n``: ``demo<n>@demo.rendezvous.test``."""
    return f"demo{n}@{DEMO_EMAIL_DOMAIN}"


_fakers: dict = {}


def _faker(locale: str):
    from faker import Faker

    fake = _fakers.get(locale)
    if fake is None:
        fake = _fakers[locale] = Faker(locale)
    return fake


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "", plain)


def _weighted(rng: random.Random, options):
    x = rng.random() * sum(w for _, w in options)
    for value, weight in options:
        x -= weight
        if x < 0:
            return value
    return options[-1][0]


def demo_profile(n: int, seed: int, role_slugs: list[str], network: osm.WalkNetwork) -> DemoProfile:
    """The seeded profile of demo user ``n`` (1-based) for ``seed``; ``role_slugs`` sorted, from the Role table.

    Pure: the same arguments always give the same profile. The position is a
    point on a segment of ``network``, uniform along the streets' length.
    """
    rng = random.Random(f"rendezvous-demo:{seed}:{n}")
    user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    locale = _weighted(rng, LOCALES)
    gender = _weighted(rng, (("female", 0.47), ("male", 0.47), ("non_binary", 0.03), ("", 0.03)))
    fake = _faker(locale)
    fake.seed_instance(rng.getrandbits(64))
    if gender == "female":
        first = fake.first_name_female()
    elif gender == "male":
        first = fake.first_name_male()
    else:
        first = fake.first_name()
    last = fake.last_name()
    suffix = str(n)
    handle = ".".join(part for part in (_ascii_slug(first)[:12], _ascii_slug(last)[:12]) if part) or "demo"
    username = handle[: 32 - len(suffix)] + suffix  # names have no digits, so the suffix keeps it unique

    roles = [slug for slug in role_slugs if rng.random() < ROLE_P.get(slug, OTHER_ROLE_P)]
    if not roles and role_slugs:
        roles = ["walker"] if "walker" in role_slugs else [rng.choice(role_slugs)]
    bios = [rng.choice(ROLE_BIOS[r]) for r in roles if r in ROLE_BIOS][:1] + [rng.choice(GENERIC_BIOS)]
    birth_date = date(1950, 1, 1) + timedelta(days=rng.randrange(57 * 365))
    if "driver" in roles:
        vehicle = VehicleType.CAR
    elif "rider" in roles:
        vehicle = rng.choice([VehicleType.BICYCLE, VehicleType.MOTORCYCLE, VehicleType.SCOOTER])
    else:
        vehicle = ""

    sharing = rng.random() < P_SHARING
    visible_roles = (
        sorted(rng.sample(role_slugs, min(len(role_slugs), rng.randint(1, 2))))
        if rng.random() < P_VISIBLE_ROLES and role_slugs
        else []
    )
    show_roles = (
        sorted(rng.sample(role_slugs, min(len(role_slugs), rng.randint(1, 2))))
        if rng.random() < P_SHOW_ROLES and role_slugs
        else []
    )
    age_range = (None, None)
    if rng.random() < 0.2:
        low = rng.randint(18, 45)
        age_range = (low, low + rng.randint(5, 30))
    prefs = {
        "location_sharing": sharing,
        "visible_roles": visible_roles,
        "filters": {"show_roles": show_roles},
        "search_radius_m": rng.choice(SEARCH_RADII_M),
        "preferred_pace": rng.choice([""] + [p.value for p in Pace]),
        "age_range_min": age_range[0],
        "age_range_max": age_range[1],
        "gender_preference": _weighted(
            rng, ((GenderPreference.ANY.value, 0.85), (GenderPreference.FEMALE.value, 0.08), ("male", 0.07))
        ),
        "keep_location_history": rng.random() < P_HISTORY,
    }
    block_n = rng.randint(1, n - 1) if n > 1 and rng.random() < P_BLOCK else None
    lat, lng, _ = network.point_at(rng.random(), rng.random())
    return DemoProfile(
        n=n,
        id=user_id,
        email=demo_email(n),
        username=username,
        full_name=f"{first} {last}",
        bio=" ".join(bios),
        roles=roles,
        birth_date=birth_date,
        gender=gender,
        vehicle_type=vehicle,
        settings=prefs,
        block_n=block_n,
        lat=lat,
        lng=lng,
    )


def demo_users_seed(
    count: int,
    seed: int = 0,
    *,
    path: str | None = None,
    progress: DemoProgress | None = None,
) -> dict:
    """Make sure demo users 1..``count`` exist and stand on the walking network; returns counts.

    ``path``: the ``.osm.pbf`` whose walking network positions people
    (default the Helsinki extract). Missing demo users are created in bulk
    (one password hash of ``settings.DEMO_USER_PASSWORD`` shared by all,
    settings rows, blocks towards earlier demo users); existing ones
    (``is_demo``) are reused unchanged. Every one of them then records a
    fresh fix at its seeded position through
    :func:`geo.services.location_record` (so sharing, history and the map
    queue follow the normal path), all in one transaction, and one map tick
    publishes them. A user with the same email who is not a demo user is
    left alone and counted in ``skipped``.

    Returns ``{"created", "reused", "skipped", "fixes", "blocks"}``.
    Raises ``ValueError`` for a count outside 0..:data:`MAX_DEMO_USERS` and
    :class:`places.osm.OsmImportError` when the OSM file cannot be read.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_DEMO_USERS:
        raise ValueError(f"count must be an integer in 0..{MAX_DEMO_USERS}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an integer")
    network = osm.walk_network_load(path)
    role_slugs = sorted(Role.objects.values_list("slug", flat=True))
    profiles = [demo_profile(n, seed, role_slugs, network) for n in range(1, count + 1)]

    existing = {
        email: (pk, is_demo)
        for email, pk, is_demo in User.objects.filter(email__in=[p.email for p in profiles]).values_list(
            "email", "id", "is_demo"
        )
    }
    skipped = sum(1 for p in profiles if p.email in existing and not existing[p.email][1])
    new = [p for p in profiles if p.email not in existing]
    taken = set(
        User.objects.annotate(lower=Lower("username"))
        .filter(lower__in=[p.username.lower() for p in new])
        .values_list("lower", flat=True)
    )
    ids = {p.n: existing[p.email][0] for p in profiles if existing.get(p.email, (None, False))[1]}
    ids.update({p.n: p.id for p in new})
    password = make_password(settings.DEMO_USER_PASSWORD)

    blocks = [
        Block(blocker_id=p.id, blocked_id=ids[p.block_n])
        for p in new
        if p.block_n is not None and p.block_n in ids  # the target may be a skipped non-demo email
    ]
    fixes = 0
    with transaction.atomic():
        User.objects.bulk_create(
            [
                User(
                    id=p.id,
                    email=p.email,
                    # A real user took the seeded name: fall back to one no person would pick.
                    username=p.username if p.username.lower() not in taken else f"demo{p.n}_{p.id.hex[:8]}",
                    password=password,
                    full_name=p.full_name,
                    bio=p.bio,
                    roles=p.roles,
                    birth_date=p.birth_date,
                    gender=p.gender,
                    vehicle_type=p.vehicle_type,
                    is_demo=True,
                )
                for p in new
            ],
            batch_size=1000,
        )
        UserSettings.objects.bulk_create([UserSettings(user_id=p.id, **p.settings) for p in new], batch_size=1000)
        Block.objects.bulk_create(blocks, batch_size=1000, ignore_conflicts=True)
        placed = [p for p in profiles if p.n in ids]
        for i, p in enumerate(placed, 1):
            result = location_record(user=User(pk=ids[p.n]), fix={"lat": p.lat, "lng": p.lng})
            fixes += result.stored
            if progress and (i % 50 == 0 or i == len(placed)):
                progress(i, len(placed))
        if blocks:
            blocked_ids = sorted({b.blocked_id for b in blocks}, key=str)
            transaction.on_commit(lambda: _blocks_published(blocked_ids))
    _tick_now()
    return {
        "created": len(new),
        "reused": len(ids) - len(new),
        "skipped": skipped,
        "fixes": fixes,
        "blocks": len(blocks),
    }


def _tick_now() -> dict:
    """Run one map tick (:func:`geo.fanout.map_publish_tick`) inside a private event loop.

    The tick's channel-layer sends use ``async_to_sync``; from plain sync code
    each one starts an event loop in a new thread (about 4 ms), inside one
    loop they take about 0.4 ms, which makes seeding 1 000 users several
    seconds faster. Must be called from sync code.
    """
    from asgiref.sync import async_to_sync, sync_to_async

    from geo.fanout import map_publish_tick

    return async_to_sync(sync_to_async(map_publish_tick))()


def _blocks_published(user_ids) -> None:
    """Refresh the live maps of existing users that new demo users blocked (their sockets may be open)."""
    from geo.services import map_visibility_changed

    for user_id in user_ids:
        map_visibility_changed(user_id)
