"""POST /api/location and PUT /api/users/location: recording a fix over REST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from geo.fanout import map_publish_tick
from geo.grid import cell_for
from geo.models import LocationFix, LocationHistory
from tests.conftest import assert_error

from .conftest import HOME
from .geoutil import fixed_window_guard

pytestmark = pytest.mark.django_db

PATHS = [
    ("post", "/api/location"),
    ("post", "/api/location/"),
    ("put", "/api/users/location"),
    ("put", "/api/users/location/"),
]


def iso(dt: datetime) -> str:
    return dt.isoformat()


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def stored_fix(user) -> LocationFix:
    return LocationFix.objects.get(user=user)


# --- happy path ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_fix_is_stored_with_the_documented_answer(make_user, client_for, post_fix, method, path):
    user = make_user()
    when = ago(10).replace(microsecond=123000)
    payload = {
        "lat": HOME[0],
        "lng": HOME[1],
        "timestamp": iso(when),
        "accuracy_m": 8.5,
        "speed_mps": 1.4,
        "heading_deg": 270,
    }
    before = timezone.now()
    response = post_fix(client_for(user), payload, path=path, method=method)
    after = timezone.now()

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"stored", "status", "recorded_at", "received_at"}
    assert body["stored"] is True
    assert body["status"] == "stored"
    assert parse_datetime(body["recorded_at"]) == when
    assert before <= parse_datetime(body["received_at"]) <= after

    fix = stored_fix(user)
    assert fix.location.y == pytest.approx(HOME[0], abs=1e-9)
    assert fix.location.x == pytest.approx(HOME[1], abs=1e-9)
    assert (fix.accuracy_m, fix.speed_mps, fix.heading_deg) == (8.5, 1.4, 270.0)
    assert fix.recorded_at == when
    assert before <= fix.received_at <= after
    assert fix.cell == cell_for(*HOME).id
    assert fix.public_cell == "" and fix.public_location is None  # not published before a tick


def test_one_row_per_user_holds_the_latest_fix(make_user, client_for, post_fix):
    user = make_user()
    client = client_for(user)
    for i, lat in enumerate([10.0, 10.001, 10.002]):
        response = post_fix(client, {"lat": lat, "lng": 20.0, "timestamp": iso(ago(30 - i))})
        assert response.json()["stored"] is True
    assert LocationFix.objects.filter(user=user).count() == 1
    assert stored_fix(user).location.y == pytest.approx(10.002)


def test_optional_fields_may_be_null_or_absent(make_user, client_for, post_fix):
    user = make_user()
    response = post_fix(client_for(user), {"lat": 1.5, "lng": -2.5, "accuracy_m": None})
    assert response.status_code == 200
    fix = stored_fix(user)
    assert (fix.accuracy_m, fix.speed_mps, fix.heading_deg) == (None, None, None)


def test_timestamp_defaults_to_now(make_user, client_for, post_fix):
    user = make_user()
    before = timezone.now()
    response = post_fix(client_for(user), {"lat": 1, "lng": 2})
    assert response.status_code == 200
    assert before <= stored_fix(user).recorded_at <= timezone.now()


def test_bounds_are_inclusive(make_user, client_for, post_fix):
    user = make_user()
    client = client_for(user)
    for i, (lat, lng) in enumerate([(90, 180), (-90, -180), (0, 0)]):
        response = post_fix(client, {"lat": lat, "lng": lng, "timestamp": iso(ago(30 - i))})
        assert response.status_code == 200, response.content
        assert response.json()["stored"] is True


def test_numeric_strings_are_numbers(make_user, client_for, post_fix):
    user = make_user()
    response = post_fix(client_for(user), {"lat": "48.5", "lng": "-3.25"})
    assert response.status_code == 200
    assert stored_fix(user).location.y == pytest.approx(48.5)


# --- timestamps -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:30:00+02:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00.250-03:00", datetime(2024, 5, 1, 15, 30, 0, 250000, tzinfo=UTC)),
        ("2024-05-01T12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),  # naive means UTC
    ],
)
def test_iso_timestamps(make_user, client_for, post_fix, text, expected):
    user = make_user()
    response = post_fix(client_for(user), {"lat": 1, "lng": 2, "timestamp": text})
    assert response.status_code == 200, response.content
    assert parse_datetime(response.json()["recorded_at"]) == expected
    assert stored_fix(user).recorded_at == expected


@pytest.mark.parametrize("as_string", [False, True])
def test_epoch_millisecond_timestamps(make_user, client_for, post_fix, as_string):
    user = make_user()
    millis = 1_714_566_600_250  # 2024-05-01T12:30:00.250Z
    response = post_fix(client_for(user), {"lat": 1, "lng": 2, "timestamp": str(millis) if as_string else millis})
    assert response.status_code == 200, response.content
    assert stored_fix(user).recorded_at == datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)


def test_timestamp_slightly_in_the_future_is_accepted(make_user, client_for, post_fix):
    user = make_user()
    when = timezone.now() + timedelta(seconds=30)
    response = post_fix(client_for(user), {"lat": 1, "lng": 2, "timestamp": iso(when)})
    assert response.status_code == 200
    assert stored_fix(user).recorded_at == when


@pytest.mark.parametrize("seconds", [61 + 5, 3600, 10 * 365 * 86400])
def test_timestamp_more_than_60_s_in_the_future_is_refused(make_user, client_for, post_fix, seconds):
    user = make_user()
    when = timezone.now() + timedelta(seconds=seconds)
    for value in (iso(when), int(when.timestamp() * 1000)):
        response = post_fix(client_for(user), {"lat": 1, "lng": 2, "timestamp": value})
        error = assert_error(response, 400, "timestamp_in_future")
        assert "timestamp" in error["fields"]
    assert not LocationFix.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-40T00:00:00Z",
        "2024-05-01T12:30:00+25:00",
        "",
        "   ",
        True,
        False,
        -1,
        10**400,  # an int too large for a float
        1e300,
        "1" * 5000,  # more digits than int() accepts
        "²",  # str.isdigit() but not a number
        "9999-12-31T23:59:59-05:00",  # overflows when converted to UTC
        "0001-01-01T00:00:00+05:00",
        [2024],
        {"ms": 1},
    ],
)
def test_bad_timestamps_are_400_with_fields(make_user, client_for, post_fix, value):
    user = make_user()
    response = post_fix(client_for(user), {"lat": 1, "lng": 2, "timestamp": value})
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"timestamp"}
    assert not LocationFix.objects.filter(user=user).exists()


# --- bad coordinates and bodies ------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"lat": 90.0001, "lng": 0}, {"lat"}),
        ({"lat": -91, "lng": 0}, {"lat"}),
        ({"lat": 0, "lng": 180.0001}, {"lng"}),
        ({"lat": 0, "lng": -181}, {"lng"}),
        ({"lat": "NaN", "lng": 0}, {"lat"}),
        ({"lat": 0, "lng": "nan"}, {"lng"}),
        ({"lat": "Infinity", "lng": 0}, {"lat"}),
        ({"lat": 0, "lng": "-Infinity"}, {"lng"}),
        ({"lat": "inf", "lng": "1e999"}, {"lat", "lng"}),
        ({"lat": True, "lng": 0}, {"lat"}),
        ({"lat": 0, "lng": False}, {"lng"}),
        ({"lat": "north", "lng": 0}, {"lat"}),
        ({"lat": 0, "lng": "12,5"}, {"lng"}),
        ({"lat": "", "lng": 0}, {"lat"}),
        ({"lat": None, "lng": 0}, {"lat"}),
        ({"lat": [1], "lng": 0}, {"lat"}),
        ({"lat": {"v": 1}, "lng": 0}, {"lat"}),
        ({"lat": 10**400, "lng": 0}, {"lat"}),
        ({"lng": 0}, {"lat"}),
        ({"lat": 0}, {"lng"}),
        ({}, {"lat", "lng"}),
        ({"lat": 0, "lng": 0, "accuracy_m": -1}, {"accuracy_m"}),
        ({"lat": 0, "lng": 0, "speed_mps": "fast"}, {"speed_mps"}),
        ({"lat": 0, "lng": 0, "heading_deg": 361}, {"heading_deg"}),
        ({"lat": 0, "lng": 0, "heading_deg": True}, {"heading_deg"}),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("post", "/api/location"), ("put", "/api/users/location/")])
def test_bad_fields_are_400_with_fields(make_user, client_for, post_fix, payload, fields, method, path):
    user = make_user()
    response = post_fix(client_for(user), payload, path=path, method=method)
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == fields
    assert not LocationFix.objects.filter(user=user).exists()


def test_bad_input_never_overwrites_the_stored_fix(make_user, client_for, post_fix):
    user = make_user()
    client = client_for(user)
    assert post_fix(client, {"lat": 1, "lng": 2}).status_code == 200
    before = stored_fix(user)
    assert_error(post_fix(client, {"lat": 91, "lng": 3}), 400)
    assert_error(post_fix(client, {"lat": 5, "lng": 3, "timestamp": "soon"}), 400)
    after = stored_fix(user)
    assert (after.location.y, after.location.x, after.recorded_at) == (
        before.location.y,
        before.location.x,
        before.recorded_at,
    )


@pytest.mark.parametrize("body", ["{bad json", '{"lat": 1, "lng": ', '{"lat": NaN, "lng": 1}', "\x00\xff"])
def test_malformed_json_is_400(make_user, client_for, body):
    user = make_user()
    response = client_for(user).post("/api/location", data=body, content_type="application/json")
    assert_error(response, 400)
    assert not LocationFix.objects.filter(user=user).exists()


@pytest.mark.parametrize("body", ["[1, 2]", "null", '"lat"', "42"])
def test_json_that_is_not_an_object_is_400(make_user, client_for, body):
    user = make_user()
    response = client_for(user).post("/api/location", data=body, content_type="application/json")
    assert_error(response, 400)


def test_oversized_body_is_413(make_user, client_for, settings):
    user = make_user()
    body = '{"lat": 1, "lng": 2, "pad": "' + "x" * (settings.REQUEST_MAX_BODY_BYTES + 10) + '"}'
    response = client_for(user).post("/api/location", data=body, content_type="application/json")
    assert_error(response, 413)


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_unauthenticated_is_401(anon, db, method, path):
    response = getattr(anon, method)(path, {"lat": 1, "lng": 2}, format="json")
    assert_error(response, 401, "not_authenticated")
    assert not LocationFix.objects.exists()


def test_bad_token_is_401(client_for, db):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(client.post("/api/location", {"lat": 1, "lng": 2}, format="json"), 401)


def test_get_is_405_in_the_error_shape(make_user, client_for):
    assert_error(client_for(make_user()).get("/api/location"), 405)


# --- ordering and coalescing ------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("post", "/api/location"), ("put", "/api/users/location")])
def test_older_fix_is_answered_not_stored(make_user, client_for, post_fix, method, path):
    user = make_user(sharing=True, settings_fields={"keep_location_history": True})
    client = client_for(user)
    newer = ago(10)
    assert post_fix(client, {"lat": 1, "lng": 2, "timestamp": iso(newer), "accuracy_m": 5}).json()["stored"]

    older = newer - timedelta(seconds=3)
    response = post_fix(client, {"lat": 3, "lng": 4, "timestamp": iso(older)}, path=path, method=method)

    assert response.status_code == 200
    body = response.json()
    assert body["stored"] is False
    assert body["status"] == "out_of_order"
    assert parse_datetime(body["recorded_at"]) == older
    fix = stored_fix(user)
    assert (fix.location.y, fix.location.x, fix.recorded_at, fix.accuracy_m) == (1.0, 2.0, newer, 5.0)
    assert fix.cell == cell_for(1, 2).id
    assert LocationHistory.objects.filter(user=user).count() == 1


def test_same_timestamp_replaces_when_there_is_no_minimum_interval(make_user, client_for, post_fix, settings):
    settings.LOCATION_MIN_INTERVAL_S = 0
    user = make_user()
    client = client_for(user)
    when = iso(ago(5))
    post_fix(client, {"lat": 1, "lng": 2, "timestamp": when})
    assert post_fix(client, {"lat": 1.5, "lng": 2, "timestamp": when}).json()["status"] == "stored"
    assert stored_fix(user).location.y == 1.5


def test_fixes_within_the_minimum_interval_are_coalesced(make_user, client_for, post_fix, settings):
    settings.LOCATION_MIN_INTERVAL_S = 5
    user = make_user(settings_fields={"keep_location_history": True})
    client = client_for(user)
    start = ago(60)

    def send(offset_s, lat):
        when = start + timedelta(seconds=offset_s)
        return post_fix(client, {"lat": lat, "lng": 2, "timestamp": iso(when)}).json()

    assert send(0, 1.0)["status"] == "stored"
    for offset, lat in [(0, 1.1), (2, 1.2), (4.9, 1.3)]:
        body = send(offset, lat)
        assert (body["stored"], body["status"]) == (False, "coalesced")
        fix = stored_fix(user)
        assert (fix.location.y, fix.recorded_at) == (1.0, start)

    assert send(5, 1.4)["status"] == "stored"  # exactly the interval later
    assert stored_fix(user).location.y == 1.4
    assert send(7, 1.5)["status"] == "coalesced"
    assert send(-1, 1.6)["status"] == "out_of_order"
    assert send(10.5, 1.7)["status"] == "stored"
    assert stored_fix(user).recorded_at == start + timedelta(seconds=10.5)
    history = LocationHistory.objects.filter(user=user).order_by("recorded_at")
    assert [round(row.location.y, 1) for row in history] == [1.0, 1.4, 1.7]  # only the stored fixes


# --- rate limit ---------------------------------------------------------------------


def test_rate_limit_per_user(make_user, client_for, post_fix, settings):
    settings.THROTTLE_LOCATION = "3/min"
    fixed_window_guard(60)
    alice, bob = make_user(), make_user()
    a = client_for(alice)
    for i in range(3):
        method, path = ("post", "/api/location") if i < 2 else ("put", "/api/users/location")
        response = post_fix(a, {"lat": 1 + i / 100, "lng": 2}, path=path, method=method)
        assert response.status_code == 200, response.content

    response = post_fix(a, {"lat": 9, "lng": 9})
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert stored_fix(alice).location.y == pytest.approx(1.02)  # the refused fix was not stored
    assert_error(post_fix(a, {"lat": 9, "lng": 9}, path="/api/users/location", method="put"), 429, "rate_limited")

    response = post_fix(client_for(bob), {"lat": 5, "lng": 5})
    assert response.status_code == 200
    assert response.json()["stored"] is True


def test_invalid_fixes_do_not_use_up_the_rate_limit(make_user, client_for, post_fix, settings):
    settings.THROTTLE_LOCATION = "2/min"
    fixed_window_guard(60)
    user = make_user()
    client = client_for(user)
    for _ in range(5):
        assert_error(post_fix(client, {"lat": 100, "lng": 0}), 400)
    assert post_fix(client, {"lat": 1, "lng": 2}).status_code == 200


# --- publishing -----------------------------------------------------------------------


def test_sharing_users_fix_is_published_by_the_tick(make_user, client_for, post_fix):
    user = make_user(sharing=True)
    post_fix(client_for(user), {"lat": HOME[0], "lng": HOME[1]})
    assert stored_fix(user).public_location is None
    map_publish_tick()
    fix = stored_fix(user)
    cell = cell_for(*HOME)
    assert fix.public_cell == cell.id
    assert (fix.public_location.y, fix.public_location.x) == pytest.approx((cell.lat, cell.lng), abs=1e-9)


def test_non_sharing_users_fix_is_never_published(make_user, client_for, post_fix):
    user = make_user(sharing=False)
    post_fix(client_for(user), {"lat": HOME[0], "lng": HOME[1]})
    map_publish_tick()
    fix = stored_fix(user)
    assert fix.public_cell == "" and fix.public_location is None


def test_stored_fix_sends_fix_stored_after_commit_and_dropped_fixes_do_not(make_user, place):
    from core import signals

    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.fix_stored.connect(receiver, dispatch_uid="test_fix_stored")
    try:
        user = make_user()
        place(user, 60.17, 24.94, tick=False, accuracy_m=5)
        assert len(received) == 1
        assert received[0]["user_id"] == user.pk and received[0]["lat"] == 60.17 and received[0]["accuracy_m"] == 5
        place(user, 60.18, 24.95, tick=False, timestamp="2000-01-01T00:00:00Z")  # out of order: not stored
        assert len(received) == 1
    finally:
        signals.fix_stored.disconnect(dispatch_uid="test_fix_stored")


def test_a_failing_fix_stored_receiver_never_fails_the_fix(make_user, place, caplog):
    from core import signals
    from geo.models import LocationFix

    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signals.fix_stored.connect(broken, dispatch_uid="test_broken_receiver")
    try:
        user = make_user()
        result = place(user, 60.17, 24.94, tick=False)
    finally:
        signals.fix_stored.disconnect(dispatch_uid="test_broken_receiver")
    assert result.stored and LocationFix.objects.filter(user=user).exists()
    assert "fix_stored receiver" in caplog.text
