"""``geo.serializers.location_fix_parse`` gives exactly what ``validated(LocationFixInputSerializer, data)`` gives.

The socket path validates every fix with the fast parser (commit ad979fe,
group commit of fixes); REST still uses the serializer. Both must return the
same ``validated_data`` (same keys, same types, same values, ``-0.0`` kept)
and refuse the same inputs with the same ``InvalidInput`` (code, message,
``fields``). The serializer is the oracle here; a few cases also pin the
expected answer, so the two cannot agree on something wrong unnoticed.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from datetime import UTC, datetime

import pytest

from core.errors import InvalidInput
from core.validation import validated
from geo.serializers import LocationFixInputSerializer, location_fix_parse

FIELDS = ("lat", "lng", "timestamp", "accuracy_m", "speed_mps", "heading_deg")
#: (name, low, high) of every bounded float of the fix.
BOUNDS = (
    ("lat", -90.0, 90.0),
    ("lng", -180.0, 180.0),
    ("accuracy_m", 0.0, 100_000.0),
    ("speed_mps", 0.0, 300.0),
    ("heading_deg", 0.0, 360.0),
)


def _canonical(value):
    """A value with its exact type and representation (``-0.0`` differs from ``0.0``, ``1`` from ``1.0``)."""
    if isinstance(value, float):
        return ("float", repr(value), math.copysign(1.0, value))
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), value.utcoffset())
    return (type(value).__name__, repr(value))


def outcome(func, data):
    """``("ok", {key: canonical value})`` or ``("invalid", code, message, fields, status)``.

    Any other exception propagates: both paths must answer with ``InvalidInput`` only.
    """
    try:
        result = func(data)
    except InvalidInput as exc:
        return ("invalid", exc.code, exc.message, exc.fields, exc.status)
    return ("ok", {key: _canonical(value) for key, value in dict(result).items()})


def serializer_path(data):
    return validated(LocationFixInputSerializer, data)


def assert_agree(data):
    """Both paths give the same outcome for ``data``; returns it (the fast parser's raw result when valid)."""
    slow = outcome(serializer_path, data)
    fast = outcome(location_fix_parse, data)
    assert fast == slow, (data, fast, slow)
    return fast


def base(**extra):
    return {"lat": 52.52, "lng": 13.41, **extra}


# --- explicit expectations (not only agreement) -----------------------------------------------------


def test_common_frame_is_parsed_to_floats_and_a_utc_datetime():
    data = {
        "lat": 60,
        "lng": 24.9,
        "timestamp": "2024-05-01T12:30:00.250+02:00",
        "accuracy_m": 8,
        "speed_mps": 1.25,
        "heading_deg": None,
        "client": "ios",  # unknown keys are ignored
    }
    result = location_fix_parse(data)
    assert result == {
        "lat": 60.0,
        "lng": 24.9,
        "timestamp": datetime(2024, 5, 1, 10, 30, 0, 250000, tzinfo=UTC),
        "accuracy_m": 8.0,
        "speed_mps": 1.25,
        "heading_deg": None,
    }
    assert type(result["lat"]) is float and type(result["accuracy_m"]) is float
    assert result["timestamp"].utcoffset().total_seconds() == 0
    assert "client" not in result
    assert_agree(data)


def test_absent_optional_fields_stay_absent_and_none_stays_none():
    assert location_fix_parse({"lat": 1.0, "lng": 2.0}) == {"lat": 1.0, "lng": 2.0}
    with_nulls = {"lat": 1.0, "lng": 2.0, "timestamp": None, "accuracy_m": None, "speed_mps": None}
    assert location_fix_parse(with_nulls) == {**with_nulls}
    assert_agree({"lat": 1.0, "lng": 2.0})
    assert_agree(with_nulls)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1_714_566_600_250, datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)),
        (1_714_566_600_250.5, datetime(2024, 5, 1, 12, 30, 0, 250500, tzinfo=UTC)),
        ("1714566600250", datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)),
        ("  1714566600250 ", datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)),
        ("2024-05-01T12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),  # naive means UTC
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00-03:00", datetime(2024, 5, 1, 15, 30, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_to_the_same_instant(raw, expected):
    result = location_fix_parse(base(timestamp=raw))
    assert result["timestamp"] == expected
    assert result["timestamp"].utcoffset().total_seconds() == 0
    assert_agree(base(timestamp=raw))


def test_invalid_fix_raises_invalid_input_with_the_serializers_fields():
    with pytest.raises(InvalidInput) as caught:
        location_fix_parse({"lat": 91, "lng": "east", "heading_deg": 400})
    assert caught.value.code == "invalid" and caught.value.status == 400
    assert set(caught.value.fields) == {"lat", "lng", "heading_deg"}
    assert_agree({"lat": 91, "lng": "east", "heading_deg": 400})


def test_non_object_is_refused_as_the_serializer_refuses_it():
    with pytest.raises(InvalidInput) as caught:
        location_fix_parse([52.5, 13.4])
    assert caught.value.message == "Expected a JSON object."


# --- agreement over a wide set of inputs --------------------------------------------------------


def _bound_cases():
    cases = []
    for name, low, high in BOUNDS:
        for value in (low, high, int(low), int(high), (low + high) / 2):  # inclusive bounds, ints and floats
            cases.append((f"{name}={value!r}", name, value, True))
        for value in (
            math.nextafter(high, math.inf),
            math.nextafter(low, -math.inf),
            high + 1,
            int(high) + 1,
            int(low) - 1,
            low - 0.5,
        ):
            cases.append((f"{name}={value!r}", name, value, False))
    return cases


@pytest.mark.parametrize(("label", "name", "value", "valid"), _bound_cases(), ids=lambda v: str(v))
def test_bounds_are_inclusive_and_just_out_of_range_is_refused(label, name, value, valid):
    data = base(**{name: value})
    result = assert_agree(data)
    if valid:
        assert result[0] == "ok"
        assert result[1][name] == _canonical(float(value))
    else:
        assert result[0] == "invalid"
        assert set(result[3]) == {name}


WEIRD_VALUES = [
    True,
    False,
    None,
    "",
    "   ",
    "1",
    "1.5",
    " 2.5 ",
    "-0",
    "1e2",
    "0x10",
    "1_000",
    "²",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1e999",
    float("nan"),
    float("inf"),
    float("-inf"),
    10**400,
    -(10**400),
    2**63,
    1e308,
    5e-324,
    -0.0,
    [],
    [1],
    {},
    {"v": 1},
    (1,),
    "x" * 1001,  # longer than DRF's string guard
    b"1",
    1j,
]


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("value", WEIRD_VALUES, ids=lambda v: repr(v)[:30])
def test_unusual_values_in_each_field_agree(name, value):
    assert_agree(base(**{name: value}))


TIMESTAMPS = [
    "2024-05-01T12:30:00+02:00",
    "2024-05-01T12:30:00.123456+05:30",
    "2024-05-01T12:30:00",
    "2024-05-01 12:30:00Z",
    "2024-05-01T12:30:00z",
    "2024-05-01",
    "2024-13-40T00:00:00Z",
    "2024-05-01T12:30:00+25:00",
    "9999-12-31T23:59:59-05:00",  # past datetime.max in UTC
    "0001-01-01T00:00:00+05:00",
    "yesterday",
    1_714_566_600_250,
    1_714_566_600_250.75,
    "1714566600250",
    "1714566600250.5",  # not digits only: parsed as a date, and refused
    "-1714566600250",
    -1,
    -0.5,
    0,
    0.0,
    1e14,
    1e14 + 1,
    100_000_000_000_000,
    100_000_000_000_001,
    "100000000000000",
    "1000000000000000",
    "1" * 5000,
    10**400,
    float("nan"),
    float("inf"),
    True,
    False,
    [2024],
    {"ms": 1},
]


@pytest.mark.parametrize("value", TIMESTAMPS, ids=lambda v: repr(v)[:40])
def test_timestamps_agree(value):
    assert_agree(base(timestamp=value))
    assert_agree(base(timestamp=value, accuracy_m=5, speed_mps=1.5, heading_deg=90))


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"lat": 1.0},
        {"lng": 1.0},
        {"lat": None, "lng": None},
        {"lat": 1, "lng": 2, "unknown": object()},
        {"lat": 1, "lng": 2, "timestamp": None, "extra": [1, 2]},
        {"lat": "1", "lng": 2, "accuracy_m": 5},  # a string number: the serializer path
        {"lat": 1, "lng": 2, "accuracy_m": 5, "speed_mps": "x"},  # valid start, bad optional field
        {"lat": 1, "lng": 2, "accuracy_m": 5, "timestamp": "bad"},  # valid numbers, bad timestamp
        {"lat": 1, "lng": 2, "accuracy_m": -1, "timestamp": "bad"},  # two errors at once
        {"lat": 1e-300, "lng": -1e-300},
        OrderedDict([("lat", 1.5), ("lng", 2.5)]),  # a Mapping that is not exactly a dict
    ],
    ids=lambda d: repr(d)[:50],
)
def test_frames_agree(data):
    assert_agree(data)


@pytest.mark.parametrize("data", [None, [], [1, 2], "lat", 42, 1.5, True, b"{}", ({"lat": 1},)], ids=repr)
def test_non_dict_data_agrees(data):
    result = assert_agree(data)
    assert result[0] == "invalid" and result[2] == "Expected a JSON object."


def test_the_input_dict_is_not_modified():
    data = {"lat": 1, "lng": 2, "timestamp": "2024-05-01T12:30:00Z", "accuracy_m": None, "x": 1}
    copy = dict(data)
    location_fix_parse(data)
    assert data == copy


def test_common_frames_never_build_a_serializer(monkeypatch):
    """The point of the fast path: numbers in range and a valid timestamp are parsed without DRF."""
    import core.validation

    def refuse(*args, **kwargs):
        raise AssertionError("the serializer path was taken for a common frame")

    monkeypatch.setattr(core.validation, "validated", refuse)
    for data in (
        {"lat": 52.5, "lng": 13.4},
        {"lat": 52, "lng": -13, "accuracy_m": 5, "speed_mps": 0, "heading_deg": 360},
        {"lat": 90.0, "lng": -180.0, "timestamp": 1_714_566_600_250, "accuracy_m": None},
        {"lat": 0.0, "lng": 0.0, "timestamp": "2024-05-01T12:30:00+02:00", "speed_mps": 12.5, "extra": "x"},
        {"lat": 0.0, "lng": 0.0, "timestamp": "1714566600250"},
        {"lat": 0.0, "lng": 0.0, "timestamp": None},
    ):
        assert location_fix_parse(data)["lat"] == float(data["lat"])


def test_unusual_frames_fall_through_to_the_serializer(monkeypatch):
    import core.validation

    calls = []
    real = core.validation.validated

    def spy(serializer_class, data, **kwargs):
        calls.append(serializer_class)
        return real(serializer_class, data, **kwargs)

    monkeypatch.setattr(core.validation, "validated", spy)
    assert location_fix_parse({"lat": "1.5", "lng": 2}) == {"lat": 1.5, "lng": 2.0}
    with pytest.raises(InvalidInput):
        location_fix_parse({"lat": True, "lng": 2})
    with pytest.raises(InvalidInput):
        location_fix_parse({"lat": 1, "lng": 2, "timestamp": "soon"})
    assert calls == [LocationFixInputSerializer] * 3


# --- seeded fuzz ------------------------------------------------------------------------------------


def _random_value(rng: random.Random, name: str):
    low, high = {n: (lo, hi) for n, lo, hi in BOUNDS}.get(name, (0.0, 1e14))
    pick = rng.random()
    if pick < 0.35:  # a plain float in range
        return rng.uniform(low, high)
    if pick < 0.4:  # a plain float a little out of range
        return rng.choice((low - rng.uniform(1e-9, high - low), high + rng.uniform(1e-9, high - low)))
    if pick < 0.48:  # an int, mostly in range
        return rng.randint(int(low) - 2, int(high) + 2)
    if pick < 0.55:  # exactly on or just beyond a bound
        edge = rng.choice((low, high))
        return rng.choice((edge, math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf), int(edge)))
    if pick < 0.6:  # a number as a string
        return rng.choice((str(rng.uniform(low, high)), str(rng.randint(int(low), int(high))), f" {high} "))
    if pick < 0.8 and name == "timestamp":
        millis = rng.randint(0, 4_000_000_000_000)
        when = datetime.fromtimestamp(millis / 1000, tz=UTC)
        return rng.choice(
            (
                millis,
                millis + 0.5,
                str(millis),
                when.isoformat(),
                when.replace(tzinfo=None).isoformat(),
                when.strftime("%Y-%m-%dT%H:%M:%S+01:00"),
                when.strftime("%Y-%m-%d"),
            )
        )
    return rng.choice(WEIRD_VALUES + TIMESTAMPS[:8])


def test_seeded_fuzz_agrees():
    rng = random.Random(20261122)
    kinds = {"ok": 0, "invalid": 0}
    for _ in range(5000):
        if rng.random() < 0.03:
            data = rng.choice([None, [], "fix", 7, [("lat", 1)]])
        else:
            data = {}
            for name in (*FIELDS, "extra"):
                if rng.random() < (0.9 if name in ("lat", "lng") else 0.5):
                    data[name] = _random_value(rng, name)
        kinds[assert_agree(data)[0]] += 1
    # both outcomes are well represented, so both paths were exercised
    assert kinds["ok"] > 400 and kinds["invalid"] > 400, kinds
