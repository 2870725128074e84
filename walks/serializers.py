"""Input parsing of walks (REST and socket share these through ``core.validation.validated``)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from core.serializers import FiniteFloatField


class PointSerializer(serializers.Serializer):
    """``{lat, lng}``: finite WGS84 degrees."""

    lat = FiniteFloatField(min_value=-90.0, max_value=90.0)
    lng = FiniteFloatField(min_value=-180.0, max_value=180.0)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string only (DRF's field also takes integers, which no client means)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class WalkRequestSerializer(serializers.Serializer):
    """``POST /api/walks/request`` / ``walk:request``: ``{partner_id, meeting_point?, message?}``."""

    partner_id = StrictUUIDField()
    meeting_point = PointSerializer(required=False, allow_null=True)
    message = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class WalkIdSerializer(serializers.Serializer):
    """``{walk_id}`` of the socket's ``walk:accept`` / ``walk:decline``."""

    walk_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class AvailabilitySerializer(serializers.Serializer):
    """``PUT /api/walks/availability``: ``{available}``."""

    available = serializers.BooleanField()


class SuggestionQuerySerializer(serializers.Serializer):
    """``GET /api/walks/{id}/suggestions?radius_m=&category=&query=``."""

    radius_m = FiniteFloatField(required=False, min_value=1.0)
    category = serializers.CharField(required=False, max_length=300, allow_blank=True)
    query = serializers.CharField(required=False, max_length=100, allow_blank=True, default="")

    def validate_radius_m(self, value):
        """At most ``WALK_SUGGESTION_MAX_RADIUS_M`` metres."""
        if value > settings.WALK_SUGGESTION_MAX_RADIUS_M:
            raise serializers.ValidationError(f"At most {settings.WALK_SUGGESTION_MAX_RADIUS_M} m.")
        return value


class WalkSerializer(serializers.Serializer):
    """A walk (output shape; ``walks.events.walk_json``), for the OpenAPI schema."""

    id = serializers.IntegerField()
    initiator_id = serializers.UUIDField()
    partner_id = serializers.UUIDField()
    status = serializers.CharField()
    meeting_point = PointSerializer(allow_null=True)
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    distance_m = serializers.FloatField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)


class WalkDetailSerializer(WalkSerializer):
    """A walk with its ``route`` (GeoJSON LineString or null) and ``route_data``."""

    route = serializers.JSONField(allow_null=True)
    route_data = serializers.JSONField()


class PlaceSuggestionSerializer(serializers.Serializer):
    """A suggested place: ``{id, name, category, address, lat, lng, distance_m}``."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.CharField()
    address = serializers.CharField()
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    distance_m = serializers.FloatField()


class SuggestionsResponseSerializer(serializers.Serializer):
    """``{basis: route|meeting_point|origin, count, results}``."""

    basis = serializers.CharField()
    count = serializers.IntegerField()
    results = PlaceSuggestionSerializer(many=True)


class MeetNowCreateSerializer(serializers.Serializer):
    """``POST /api/meet_now``: ``{target_user_id, message?}`` (message up to 500 characters)."""

    target_user_id = StrictUUIDField()
    message = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class MeetNowListQuerySerializer(serializers.Serializer):
    """``GET /api/meet_now?direction=incoming|outgoing`` (both when absent)."""

    direction = serializers.ChoiceField(choices=["incoming", "outgoing"], required=False)


class MeetupStatusSerializer(serializers.Serializer):
    """Client ``meetup:update``: ``{meetup_id, status}``."""

    meetup_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=["on_my_way", "arrived", "running_late", "cant_make_it"])


class MeetNowSerializer(serializers.Serializer):
    """A meet-now request (output shape; ``walks.events.meet_json``)."""

    id = serializers.IntegerField()
    from_user_id = serializers.UUIDField()
    from_user_name = serializers.CharField()
    to_user_id = serializers.UUIDField()
    message = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()
    meetup_id = serializers.IntegerField(allow_null=True)


class MeetupParticipantSerializer(serializers.Serializer):
    """``{user_id, status, status_at, left_at}``."""

    user_id = serializers.UUIDField()
    status = serializers.CharField()
    status_at = serializers.DateTimeField(allow_null=True)
    left_at = serializers.DateTimeField(allow_null=True)


class MeetupSerializer(serializers.Serializer):
    """A meetup (output shape; ``walks.events.meetup_json``)."""

    id = serializers.IntegerField()
    organizer_id = serializers.UUIDField()
    participant_ids = serializers.ListField(child=serializers.UUIDField())
    participants = MeetupParticipantSerializer(many=True)
    location = PointSerializer(allow_null=True)
    time = serializers.DateTimeField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    exact_until = serializers.DateTimeField()
    conversation_id = serializers.IntegerField(allow_null=True)


class IntroductionCreateSerializer(serializers.Serializer):
    """``POST /api/request_introduction``: ``{target_user_id, via_user_id, message?}``."""

    target_user_id = StrictUUIDField()
    via_user_id = StrictUUIDField()
    message = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class IntroductionListQuerySerializer(serializers.Serializer):
    """``GET /api/introductions?role=requester|via|target`` (all when absent)."""

    role = serializers.ChoiceField(choices=["requester", "via", "target"], required=False)


class IntroductionSerializer(serializers.Serializer):
    """An introduction (output shape; ``walks.events.introduction_json``)."""

    id = serializers.IntegerField()
    from_user_id = serializers.UUIDField()
    from_user_name = serializers.CharField()
    via_user_id = serializers.UUIDField()
    via_user_name = serializers.CharField()
    to_user_id = serializers.UUIDField()
    to_user_name = serializers.CharField()
    message = serializers.CharField()
    status = serializers.CharField()
    declined_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    forwarded_at = serializers.DateTimeField(allow_null=True)
    responded_at = serializers.DateTimeField(allow_null=True)
    conversation_id = serializers.IntegerField(allow_null=True)


class ProximityCreateSerializer(serializers.Serializer):
    """``POST /api/proximity_alerts``: ``{user_id, distance_m}`` (100..5000 metres)."""

    user_id = StrictUUIDField()
    distance_m = serializers.IntegerField(min_value=100, max_value=5000)


class ProximitySerializer(serializers.Serializer):
    """A proximity alert (output shape; ``walks.events.proximity_json``)."""

    id = serializers.IntegerField()
    from_user_id = serializers.UUIDField()
    to_user_id = serializers.UUIDField()
    distance_m = serializers.IntegerField()
    status = serializers.CharField()
    near = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
