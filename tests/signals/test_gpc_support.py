"""``/.well-known/gpc.json``: reading never fails, it says what is unknown and why.

Named after the conformance checklist in ``specs.md`` §7 (items 43–44).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.signals.errors import SignalError
from trackpref.signals.gpc_support import (
    GPC_JSON_PATH,
    MAX_GPC_JSON_BYTES,
    GPCSupport,
    format_gpc_json,
    format_last_update,
    parse_gpc_json,
    parse_last_update,
)

JSON = "application/json"


def test_spec_example_reads_as_abiding_with_a_date() -> None:
    body = b'{\n  "gpc": true,\n  "lastUpdate": "1997-03-10"\n}'
    support = parse_gpc_json(body, JSON)
    assert support == GPCSupport(gpc=True, last_update=dt.date(1997, 3, 10), problems=())
    assert support.known
    assert GPC_JSON_PATH == "/.well-known/gpc.json"


# -- 43: application/json, an object, gpc true or false ------------------------


@pytest.mark.parametrize("value", [True, False])
def test_checklist_43_gpc_true_or_false_is_known(value: bool) -> None:
    support = parse_gpc_json(json.dumps({"gpc": value}), JSON)
    assert support.gpc is value
    assert support.last_update is None
    assert support.problems == ()


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", " application/json ;charset=UTF-8"],
)
def test_checklist_43_application_json_with_parameters_is_accepted(content_type: str) -> None:
    assert parse_gpc_json(b'{"gpc": true}', content_type).gpc is True


@pytest.mark.parametrize(
    "content_type", [None, "", "text/html", "text/json", "application/ld+json", "text/plain"]
)
def test_checklist_43_other_media_types_make_support_unknown(content_type: str | None) -> None:
    support = parse_gpc_json(b'{"gpc": true, "lastUpdate": "2025-04-15"}', content_type)
    assert support.gpc is None
    assert support.last_update is None
    assert not support.known
    assert support.problems[0].startswith("Content-Type:")
    assert any("the body says true" in p for p in support.problems)


@pytest.mark.parametrize(
    "body",
    [b"[]", b"true", b'"gpc"', b"null", b"", b"{", b"\xff", b'{"gpc": true}{}', b"<html>"],
)
def test_checklist_43_a_body_that_is_not_one_json_object_is_unknown(body: bytes) -> None:
    support = parse_gpc_json(body, JSON)
    assert support.gpc is None
    assert support.problems[0].startswith("body:")
    assert support.problems[-1] == "gpc: support is unknown"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"gpc": "true"}, '"true" is not the JSON boolean'),
        ({"gpc": 1}, "1 is not the JSON boolean"),
        ({"gpc": None}, "null is not the JSON boolean"),
        ({"gpc": [True]}, "is not the JSON boolean"),
        ({}, "missing"),
        ({"GPC": True}, "missing"),
    ],
)
def test_checklist_43_gpc_other_than_a_boolean_is_unknown(
    document: dict[str, object], expected: str
) -> None:
    support = parse_gpc_json(json.dumps(document), JSON)
    assert support.gpc is None
    (problem,) = support.problems
    assert problem.startswith("gpc:")
    assert expected in problem


def test_checklist_43_gpc_given_twice_is_unknown() -> None:
    support = parse_gpc_json(b'{"gpc": false, "gpc": true}', JSON)
    assert support.gpc is None
    assert len(support.problems) == 2


def test_checklist_43_body_larger_than_the_cap_is_unknown() -> None:
    body = json.dumps({"gpc": True, "pad": "x" * MAX_GPC_JSON_BYTES}).encode()
    support = parse_gpc_json(body, JSON)
    assert support.gpc is None
    assert "more than" in support.problems[0]


# -- 44: invalid lastUpdate makes only the date unknown; extras ignored --------


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-30",
        "2025-4-15",
        "15/04/2025",
        "2025-04-15T10:00:00",  # no offset
        "2025-04-15 10:00:00Z",
        "2025-04-15T25:00:00Z",
        "2025-04-15T10:00:00+24:00",
        "2016-12-31T23:59:60Z",  # a leap second, which datetime cannot hold
        "0000-01-01",
        "２０２５-04-15",  # full-width digits are not RFC 3339 digits
        "",
        "yesterday",
    ],
)
def test_checklist_44_invalid_last_update_makes_only_the_date_unknown(value: str) -> None:
    support = parse_gpc_json(json.dumps({"gpc": True, "lastUpdate": value}), JSON)
    assert support.gpc is True
    assert support.last_update is None
    (problem,) = support.problems
    assert problem.startswith("lastUpdate:")


@pytest.mark.parametrize("value", [20250415, None, ["2025-04-15"], True])
def test_checklist_44_last_update_of_the_wrong_type_is_only_the_date_unknown(value: object) -> None:
    support = parse_gpc_json(json.dumps({"gpc": False, "lastUpdate": value}), JSON)
    assert support.gpc is False
    assert support.last_update is None
    assert support.problems == ("lastUpdate: not a string; the date is unknown",)


def test_checklist_44_extra_members_are_ignored() -> None:
    body = b'{"gpc": true, "version": 1, "notes": {"a": [1, 2]}, "lastUpdate": "2025-04-15"}'
    assert parse_gpc_json(body, JSON) == GPCSupport(gpc=True, last_update=dt.date(2025, 4, 15))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-15", dt.date(2025, 4, 15)),
        ("2025-04-15T10:11:12.345Z", dt.datetime(2025, 4, 15, 10, 11, 12, 345000, tzinfo=dt.UTC)),
        ("2025-04-15t10:11:12z", dt.datetime(2025, 4, 15, 10, 11, 12, tzinfo=dt.UTC)),
        (
            "2025-04-15T10:11:12.123456789+02:00",
            dt.datetime(2025, 4, 15, 8, 11, 12, 123456, tzinfo=dt.UTC),
        ),
        ("2025-04-15T10:11:12-00:00", dt.datetime(2025, 4, 15, 10, 11, 12, tzinfo=dt.UTC)),
    ],
)
def test_checklist_44_rfc3339_dates_and_date_times_are_read(
    value: str, expected: dt.date | dt.datetime
) -> None:
    parsed = parse_last_update(value)
    assert parsed == expected
    assert type(parsed) is type(expected)


# -- Writing gpc.json ----------------------------------------------------------


def test_format_gpc_json_writes_the_spec_shape() -> None:
    assert format_gpc_json(True) == b'{"gpc": true}'
    assert (
        format_gpc_json(False, dt.date(2025, 4, 15))
        == b'{"gpc": false, "lastUpdate": "2025-04-15"}'
    )


def test_format_last_update_writes_utc_milliseconds() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    value = dt.datetime(2025, 4, 15, 12, 0, 1, 234567, tzinfo=plus_two)
    assert format_last_update(value) == "2025-04-15T10:00:01.234Z"
    assert format_last_update(dt.date(999, 1, 2)) == "0999-01-02"


def test_format_refuses_a_naive_datetime_and_a_non_boolean() -> None:
    with pytest.raises(SignalError) as naive:
        format_gpc_json(True, dt.datetime(2025, 4, 15, 12, 0))
    assert naive.value.field == "lastUpdate"
    with pytest.raises(SignalError) as truthy:
        format_gpc_json(1)  # type: ignore[arg-type]
    assert truthy.value.field == "gpc"


def test_format_refuses_a_date_time_outside_the_utc_range() -> None:
    ahead = dt.timezone(dt.timedelta(hours=5))
    with pytest.raises(SignalError):
        format_last_update(dt.datetime(1, 1, 1, 0, 0, tzinfo=ahead))


# -- Properties ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
content_types = st.none() | st.sampled_from([JSON, "text/html"]) | st.text(max_size=30)


@given(st.binary(max_size=300), content_types)
def test_property_arbitrary_bytes_never_raise(body: bytes, content_type: str | None) -> None:
    support = parse_gpc_json(body, content_type)
    assert support.known == (support.gpc is not None)
    if support.gpc is None:
        assert support.problems


@given(
    st.dictionaries(
        st.sampled_from(["gpc", "lastUpdate", "x"]),
        json_values | st.dates().map(str) | st.text(max_size=30),
        max_size=3,
    )
)
def test_property_arbitrary_objects_never_raise(document: dict[str, object]) -> None:
    support = parse_gpc_json(json.dumps(document), JSON)
    if isinstance(document.get("gpc"), bool):
        assert support.gpc is document["gpc"]
    else:
        assert support.gpc is None
        assert any(p.startswith("gpc:") for p in support.problems)


@given(json_values, content_types)
def test_property_arbitrary_json_never_raises(value: object, content_type: str | None) -> None:
    parse_gpc_json(json.dumps(value), content_type)


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
last_updates = (
    st.none()
    | st.dates()
    | st.datetimes(
        min_value=dt.datetime(1000, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.just(dt.UTC) | offsets,
    ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
)


@given(st.booleans(), last_updates)
def test_property_parse_inverts_format(gpc: bool, last_update: dt.date | None) -> None:
    support = parse_gpc_json(format_gpc_json(gpc, last_update), JSON)
    assert support == GPCSupport(gpc=gpc, last_update=last_update)
