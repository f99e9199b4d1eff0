"""Corrections by collect's rules: what the portal stores, collect would have stored."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.service.classify import DEVICES
from trackpref.service.corrections import CORRECTABLE, check_correction
from trackpref.service.events import CollectError, parse_events


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("pageviews.type", "signup", "signup"),
        ("pageviews.path", "/news/1", "/news/1"),
        ("pageviews.referrer_domain", "search.example", "search.example"),
        ("pageviews.referrer_domain", "(direct)", "(direct)"),
        ("pageviews.device", "mobile", "mobile"),
        ("pageviews.region", "de", "DE"),
        ("pageviews.region", "(none)", "(none)"),
        ("pageviews.props", '{"plan": "pro", "n": 2}', '{"n":2,"plan":"pro"}'),
        ("email_opens.campaign", "spring-2026", "spring-2026"),
        ("email_opens.signal", "dnt1", "dnt1"),
    ],
)
def test_valid_corrections_are_stored_as_collect_would(field: str, value: str, stored: str) -> None:
    dataset, _, name = field.partition(".")
    assert check_correction(dataset, name, value) == stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pageviews.path", ""),
        ("pageviews.path", "no-slash javascript:alert(1)"),
        ("pageviews.path", "/a?b=c"),
        ("pageviews.path", "https://other.example/a"),
        ("pageviews.path", "/a\x00"),
        ("pageviews.device", "<script>"),
        ("pageviews.type", "BAD TYPE"),
        ("pageviews.referrer_domain", "www.search.example"),  # not registrable
        ("pageviews.referrer_domain", "https://search.example/"),
        ("pageviews.region", "DEU"),
        ("pageviews.region", "\u202eDE"),
        ("pageviews.props", "not json"),
        ("pageviews.props", "[1, 2]"),
        ("pageviews.props", "{}"),
        ("pageviews.props", "[" * 3000),  # json.loads: RecursionError, not ValueError
        ("pageviews.props", '{"a": "' + "x" * 5000 + '"}'),
        ("email_opens.campaign", "Spring Sale"),
        ("email_opens.signal", "maybe"),
        ("pageviews.type", None),
    ],
)
def test_values_collect_refuses_are_refused_by_name(field: str, value: object) -> None:
    dataset, _, name = field.partition(".")
    with pytest.raises(CollectError) as info:
        check_correction(dataset, name, value)
    assert info.value.field == "value"
    assert str(info.value).startswith("value: ")


@pytest.mark.parametrize("field", ["pageviews.visitor_id", "email_opens.recipient"])
def test_the_identifiers_are_not_correctable(field: str) -> None:
    dataset, _, name = field.partition(".")
    with pytest.raises(CollectError) as info:
        check_correction(dataset, name, "someone_elses_id_123")
    assert info.value.field == "field"
    assert "deletion" in str(info.value)
    assert field not in CORRECTABLE


def test_fields_of_a_sites_own_inventory_are_left_to_the_gate() -> None:
    assert check_correction("orders", "note", "anything") == "anything"


@given(st.text(max_size=60))
def test_a_corrected_path_or_type_is_one_collect_accepts(value: str) -> None:
    """Whatever the portal stores as a path or a type, a collect request could have sent."""
    for name in ("path", "type"):
        try:
            stored = check_correction("pageviews", name, value)
        except CollectError:
            continue
        event = {"site": "news.example", "type": "pageview", "url": "/"}
        event["url" if name == "path" else "type"] = str(stored)
        (parsed,) = parse_events(json.dumps(event).encode(), max_events=1)
        assert (parsed.path if name == "path" else parsed.type) == stored


@given(st.text(max_size=12))
def test_a_corrected_device_is_one_of_the_five(value: str) -> None:
    try:
        stored = check_correction("pageviews", "device", value)
    except CollectError:
        return
    assert stored in DEVICES
