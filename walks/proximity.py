"""Mutual-consent proximity alerts (issue 10): "we are near each other", computed on the server, never a position.

::

    pending --accept (the other)--> active --DELETE (either)--> revoked
    pending --DELETE (either)--> revoked
    pending / active --block either way--> revoked

While active, each stored fix of either person (``core.signals.fix_stored``)
is compared with the other's latest **fresh** fix (geodesic distance,
PostGIS geography): ``proximity:near`` to both when it drops below
``distance_m`` while the state is far, ``proximity:far`` when it rises above
``distance_m * PROXIMITY_HYSTERESIS`` while the state is near. The state is
stored in the row and flipped with a conditional UPDATE, so two concurrent
fixes send one event.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Block, User
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from realtime.publish import publish, user_group

from . import events
from .models import ProximityAlert, ProximityStatus
from .selectors import user_visible_to

OPEN = (ProximityStatus.PENDING, ProximityStatus.ACTIVE)


def _not_available() -> NotFound:
    return NotFound("This user is not available for a proximity alert.", code="not_available")


def _publish(alert) -> None:
    data = events.proximity_updated(alert)
    for uid in (alert.from_user_id, alert.to_user_id):
        publish(user_group(uid), "proximity:updated", data)


def proximity_get_for(user, alert_id) -> ProximityAlert:
    """The alert if ``user`` is one of its two people; 404 ``not_found`` otherwise."""
    try:
        pk = int(str(alert_id))
    except (TypeError, ValueError):
        raise NotFound("No such proximity alert.") from None
    alert = (
        ProximityAlert.objects.filter(Q(from_user_id=user.pk) | Q(to_user_id=user.pk), pk=pk).first()
        if 0 < pk < 2**63
        else None
    )
    if alert is None:
        raise NotFound("No such proximity alert.")
    return alert


def proximity_list(user) -> QuerySet[ProximityAlert]:
    """``user``'s pending and active alerts (either side), newest first."""
    return ProximityAlert.objects.filter(Q(from_user_id=user.pk) | Q(to_user_id=user.pk), status__in=OPEN)


def proximity_create(*, user: User, user_id, distance_m: int) -> ProximityAlert:
    """``user`` asks ``user_id`` for a proximity alert at ``distance_m`` (100..5000, validated by the caller).

    ``pending`` until the other accepts; ``proximity:updated`` to both.
    Raises 400 for oneself, 429 past ``PROXIMITY_ALERT_RATE``, 404
    ``not_available`` (one answer) for an unknown, inactive or blocked user
    or one who is neither visible to ``user`` on the map nor a contact,
    409 ``alert_exists`` while the pair has a pending or active alert.
    """
    from geo.selectors import contact_ids_for

    if str(user_id) == str(user.pk):
        raise InvalidInput("Not with yourself.", fields={"user_id": ["Not yourself."]})
    rate_limit_hit("proximity_alert", str(user.pk), settings.PROXIMITY_ALERT_RATE)
    other = User.objects.filter(pk=user_id, is_active=True).first()
    if other is None:
        raise _not_available()
    blocked = Block.objects.filter(
        Q(blocker_id=user.pk, blocked_id=other.pk) | Q(blocker_id=other.pk, blocked_id=user.pk)
    ).exists()
    if blocked or not (other.pk in contact_ids_for(user.pk) or user_visible_to(user, other.pk)):
        raise _not_available()
    try:
        with transaction.atomic():
            alert = ProximityAlert.objects.create(from_user=user, to_user=other, distance_m=distance_m)
            _publish(alert)
    except IntegrityError:
        raise Conflict("You two already have a proximity alert.", code="alert_exists") from None
    return alert


def proximity_accept(*, user: User, alert_id) -> ProximityAlert:
    """The other person consents: ``active``; the current state is evaluated at once (``proximity:near`` if near).

    Raises 404 for a third user, 403 ``not_your_turn`` for the one who
    asked, 409 ``invalid_transition`` when not pending.
    """
    with transaction.atomic():
        alert = ProximityAlert.objects.select_for_update().get(pk=proximity_get_for(user, alert_id).pk)
        if str(alert.to_user_id) != str(user.pk):
            raise Forbidden("The other person must accept.", code="not_your_turn")
        if alert.status != ProximityStatus.PENDING:
            raise Conflict(
                f"A {alert.status} alert cannot be accepted.",
                code="invalid_transition",
                fields={"status": [alert.status]},
            )
        alert.status, alert.accepted_at = ProximityStatus.ACTIVE, timezone.now()
        alert.save(update_fields=["status", "accepted_at", "updated_at"])
        _publish(alert)
    from geo.models import LocationFix
    from geo.selectors import location_fresh_after

    # Only a fresh fix of the accepter counts: a stale one (their last known place, hours ago) must not
    # be compared, or the asker learns where the accepter last was (docs/walks.md: stale changes nothing).
    fix = LocationFix.objects.filter(user_id=user.pk, recorded_at__gt=location_fresh_after()).first()
    if fix is not None:
        proximity_fix_stored(user_id=user.pk, lat=fix.location.y, lng=fix.location.x, only=[alert.pk])
        alert.refresh_from_db()
    return alert


def _revoke(alert, now: datetime) -> None:
    alert.status, alert.revoked_at = ProximityStatus.REVOKED, now
    alert.save(update_fields=["status", "revoked_at", "updated_at"])
    _publish(alert)


def proximity_revoke(*, user: User, alert_id) -> ProximityAlert:
    """Either person revokes a pending or active alert: ``revoked``. 404 for a third user, 409 when already revoked."""
    with transaction.atomic():
        alert = ProximityAlert.objects.select_for_update().get(pk=proximity_get_for(user, alert_id).pk)
        if alert.status not in OPEN:
            raise Conflict("This alert is already revoked.", code="invalid_transition", fields={"status": ["revoked"]})
        _revoke(alert, timezone.now())
    return alert


def proximity_revoke_for_block(*, blocker_id, blocked_id) -> int:
    """A block revokes the pair's pending or active alert (no notification); returns how many."""
    pair = Q(from_user_id=blocker_id, to_user_id=blocked_id) | Q(from_user_id=blocked_id, to_user_id=blocker_id)
    now = timezone.now()
    count = 0
    with transaction.atomic():
        for alert in ProximityAlert.objects.select_for_update().filter(pair, status__in=OPEN):
            _revoke(alert, now)
            count += 1
    return count


def proximity_fix_stored(*, user_id, lat: float, lng: float, only=None, now: datetime | None = None) -> int:
    """Receiver of ``fix_stored``: evaluate ``user_id``'s active alerts against the other's fresh fix.

    Two indexed queries when the user has active alerts (the alerts, then
    the others' fresh fixes with their geodesic distance to this fix), one
    when none. A missing or stale fix of the other changes nothing. Returns
    the number of events sent (two per crossing).
    """
    from geo.models import LocationFix
    from geo.selectors import location_fresh_after

    alerts = ProximityAlert.objects.filter(
        Q(from_user_id=user_id) | Q(to_user_id=user_id), status=ProximityStatus.ACTIVE
    )
    if only is not None:
        alerts = alerts.filter(pk__in=only)
    alerts = list(alerts.only("pk", "from_user_id", "to_user_id", "distance_m", "near"))
    if not alerts:
        return 0
    now = now or timezone.now()
    here = Point(float(lng), float(lat), srid=4326)
    others = {a.to_user_id if str(a.from_user_id) == str(user_id) else a.from_user_id for a in alerts}
    distances = {
        f.user_id: f.d.m
        for f in LocationFix.objects.filter(user_id__in=others, recorded_at__gt=location_fresh_after(now))
        .annotate(d=Distance("location", here))
        .only("user_id")
    }
    sent = 0
    for alert in alerts:
        other = alert.to_user_id if str(alert.from_user_id) == str(user_id) else alert.from_user_id
        d = distances.get(other)
        if d is None:
            continue
        if not alert.near and d < alert.distance_m:
            new, event, builder = True, "proximity:near", events.proximity_near
        elif alert.near and d > alert.distance_m * settings.PROXIMITY_HYSTERESIS:
            new, event, builder = False, "proximity:far", events.proximity_far
        else:
            continue
        with transaction.atomic():
            flipped = ProximityAlert.objects.filter(pk=alert.pk, status=ProximityStatus.ACTIVE, near=alert.near).update(
                near=new, updated_at=now
            )
            if not flipped:
                continue  # a concurrent fix of the other person already sent it
            for me, them in ((alert.from_user_id, alert.to_user_id), (alert.to_user_id, alert.from_user_id)):
                data = builder(alert_id=alert.pk, other_id=them, distance_m=alert.distance_m, at=now)
                publish(user_group(me), event, data)
                sent += 1
    return sent
