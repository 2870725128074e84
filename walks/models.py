"""Walks (seed 001) and walk availability; meet-now, meetups and introductions follow (seed 000).

Units: metres, UTC instants. Positions are WGS84 geography columns.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.db.models.functions import Greatest, Least


class WalkStatus(models.TextChoices):
    """States of a walk (docs/walks.md, "State machine")."""

    REQUESTED = "requested", "Requested"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


#: States in which the two walkers see each other exactly and share the walk room.
WALK_LIVE_STATES = (WalkStatus.ACCEPTED, WalkStatus.IN_PROGRESS)
#: States a walk never leaves.
WALK_FINAL_STATES = (WalkStatus.DECLINED, WalkStatus.COMPLETED, WalkStatus.CANCELLED, WalkStatus.EXPIRED)


def empty_route_data() -> dict:
    """``{"coordinates": [], "points_of_interest": []}`` (seed 001 ``walk_routes`` document)."""
    return {"coordinates": [], "points_of_interest": []}


class Walk(models.Model):
    """A walk between ``initiator`` and ``partner`` (seed 001 ``walks`` table).

    ``meeting_point``: optional WGS84 point proposed by the initiator.
    ``route``: the recorded track (geography LineString, set when the walk
    ends, ``None`` with fewer than two points); ``route_data``: the same
    track as ``coordinates [{lat, lng, timestamp}]`` plus
    ``points_of_interest [{name, type, location: {lat, lng}}]`` near it.
    ``distance_m``: geodesic length of ``route`` (PostGIS
    ``ST_Length(geography)``, metres), ``0`` for a track of fewer than two
    points. Invariants: two different users; at most one ``requested`` walk
    per unordered pair (partial unique index on ``least/greatest``).
    """

    initiator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="walks_initiated")
    partner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="walks_received")
    status = models.CharField(max_length=16, choices=WalkStatus.choices, default=WalkStatus.REQUESTED)
    meeting_point = models.PointField(geography=True, srid=4326, null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    distance_m = models.FloatField(null=True, blank=True)
    route = models.LineStringField(geography=True, srid=4326, null=True, blank=True)
    route_data = models.JSONField(default=empty_route_data, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["initiator", "status"], name="walks_walk_initiator_status"),
            models.Index(fields=["partner", "status"], name="walks_walk_partner_status"),
            models.Index(fields=["status", "start_time"], name="walks_walk_status_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(initiator=models.F("partner")), name="walks_walk_two_people"),
            models.UniqueConstraint(
                Least("initiator", "partner"),
                Greatest("initiator", "partner"),
                condition=Q(status="requested"),
                name="walks_walk_one_pending_per_pair",
            ),
        ]

    def __str__(self):
        return f"walk {self.pk} ({self.status})"

    def other_id(self, user_id):
        """The other walker's id."""
        return self.partner_id if str(self.initiator_id) == str(user_id) else self.initiator_id

    def has_walker(self, user_id) -> bool:
        """Whether ``user_id`` is one of the two walkers."""
        return str(user_id) in (str(self.initiator_id), str(self.partner_id))


class WalkPoint(models.Model):
    """One stored fix of a walker during an ``in_progress`` walk (the raw track; one insert per fix)."""

    walk = models.ForeignKey(Walk, on_delete=models.CASCADE, related_name="points")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    location = models.PointField(geography=True, srid=4326)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [models.Index(fields=["walk", "user", "recorded_at"], name="walks_point_walk_user_time")]


class WalkAvailability(models.Model):
    """Whether a user marked themself available for a walk (seed 001 presence ``status: "available"``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="walk_availability"
    )
    available = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)


# --- meet-now and meetups (seed 000) --------------------------------------------------------------


class MeetNowStatus(models.TextChoices):
    """States of a meet-now request (docs/walks.md, "Meet-now")."""

    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class MeetNowRequest(models.Model):
    """``from_user`` asks ``to_user`` to meet now (seed 000 ``MeetNowRequest``).

    ``expires_at`` = ``created_at + MEET_NOW_TTL_S``; ``meetup`` is set when
    accepted. Invariants: two different users; at most one ``pending``
    request per unordered pair (partial unique index on ``least/greatest``).
    """

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meet_now_sent")
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meet_now_received")
    message = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=MeetNowStatus.choices, default=MeetNowStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    meetup = models.ForeignKey("Meetup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["to_user", "status", "expires_at"], name="walks_meet_to_status"),
            models.Index(fields=["from_user", "status"], name="walks_meet_from_status"),
            models.Index(fields=["status", "expires_at"], name="walks_meet_status_expires"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(from_user=models.F("to_user")), name="walks_meet_two_people"),
            models.UniqueConstraint(
                Least("from_user", "to_user"),
                Greatest("from_user", "to_user"),
                condition=Q(status="pending"),
                name="walks_meet_one_pending_per_pair",
            ),
        ]

    def __str__(self):
        return f"meet-now {self.pk} ({self.status})"


class MeetupStatus(models.TextChoices):
    """States of a meetup."""

    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


#: States in which a meetup's room can be joined.
MEETUP_LIVE_STATES = (MeetupStatus.PLANNED, MeetupStatus.ACTIVE)


class Meetup(models.Model):
    """A meetup (seed 000 ``Meetup``): ``organizer``, participants (:class:`MeetupParticipant`), place and time.

    ``location``: WGS84 geography point or ``None`` (the midpoint of the two
    people's fresh fixes when created from a meet-now request). Exact sharing
    between active participants lasts while ``status`` is ``active`` and
    ``now < time + MEETUP_EXACT_TTL_S``.
    """

    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meetups_organized")
    location = models.PointField(geography=True, srid=4326, null=True, blank=True)
    time = models.DateTimeField()
    status = models.CharField(max_length=16, choices=MeetupStatus.choices, default=MeetupStatus.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["time", "id"]
        indexes = [models.Index(fields=["status", "time"], name="walks_meetup_status_time")]

    def __str__(self):
        return f"meetup {self.pk} ({self.status})"


class MeetupParticipant(models.Model):
    """``user`` in ``meetup``; ``left_at`` once they left; ``status`` their last announced status (``on_my_way``)."""

    meetup = models.ForeignKey(Meetup, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meetup_participations")
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, blank=True, default="")
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["meetup", "user"], name="walks_meetup_participant_once")]
        indexes = [models.Index(fields=["user", "left_at"], name="walks_meetup_part_user")]


# --- introductions (seed 000) ---------------------------------------------------------------------


class IntroductionStatus(models.TextChoices):
    """States of an introduction request (docs/walks.md, "Introductions")."""

    PENDING = "pending", "Pending (with the via user)"
    FORWARDED = "forwarded", "Forwarded (with the target)"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"


#: States in which an introduction is still open.
INTRODUCTION_OPEN_STATES = (IntroductionStatus.PENDING, IntroductionStatus.FORWARDED)


class IntroductionRequest(models.Model):
    """``from_user`` asks ``via_user`` to introduce them to ``to_user`` (seed 000 ``IntroductionRequest``).

    ``declined_by``: ``via`` or ``target`` once declined; ``conversation``:
    the direct conversation of requester and target once accepted.
    Invariants: three different users; at most one open introduction per
    unordered requester/target pair.
    """

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="intros_sent")
    via_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="intros_via")
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="intros_received")
    message = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=IntroductionStatus.choices, default=IntroductionStatus.PENDING)
    declined_by = models.CharField(max_length=8, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    forwarded_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(
        "messaging.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["from_user", "status"], name="walks_intro_from_status"),
            models.Index(fields=["via_user", "status"], name="walks_intro_via_status"),
            models.Index(fields=["to_user", "status"], name="walks_intro_to_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_user=models.F("to_user"))
                & ~Q(from_user=models.F("via_user"))
                & ~Q(via_user=models.F("to_user")),
                name="walks_intro_three_people",
            ),
            models.UniqueConstraint(
                Least("from_user", "to_user"),
                Greatest("from_user", "to_user"),
                condition=Q(status__in=["pending", "forwarded"]),
                name="walks_intro_one_open_per_pair",
            ),
        ]

    def __str__(self):
        return f"introduction {self.pk} ({self.status})"


# --- proximity alerts (issue 10, beyond the seeds) ------------------------------------------------


class ProximityStatus(models.TextChoices):
    """States of a proximity alert."""

    PENDING = "pending", "Pending (waiting for the other's consent)"
    ACTIVE = "active", "Active (both consented)"
    REVOKED = "revoked", "Revoked"


class ProximityAlert(models.Model):
    """A mutual-consent "we are near each other" alert between ``from_user`` and ``to_user``.

    ``distance_m``: 100..5000 (metres); ``near``: the last state sent
    (hysteresis: near below ``distance_m``, far only above ``distance_m *
    PROXIMITY_HYSTERESIS``). At most one pending or active alert per
    unordered pair.
    """

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prox_sent")
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prox_received")
    distance_m = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=ProximityStatus.choices, default=ProximityStatus.PENDING)
    near = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["from_user", "status"], name="walks_prox_from_status"),
            models.Index(fields=["to_user", "status"], name="walks_prox_to_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(from_user=models.F("to_user")), name="walks_prox_two_people"),
            models.CheckConstraint(
                condition=Q(distance_m__gte=100, distance_m__lte=5000), name="walks_prox_distance_range"
            ),
            models.UniqueConstraint(
                Least("from_user", "to_user"),
                Greatest("from_user", "to_user"),
                condition=Q(status__in=["pending", "active"]),
                name="walks_prox_one_open_per_pair",
            ),
        ]

    def __str__(self):
        return f"proximity alert {self.pk} ({self.status})"
