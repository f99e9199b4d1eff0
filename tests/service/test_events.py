"""The collect body parser: strict, names the field, never raises anything else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.service.events import MAX_PROPS, CollectError, IncomingEvent, parse_events


def one(**event: object) -> bytes:
    return json.dumps(event).encode()


BASE = {"site": "news.example", "type": "pageview", "url": "https://news.example/a/b?q=secret#x"}


def test_one_event_keeps_only_the_path_and_hosts() -> None:
    [ev] = parse_events(one(**BASE, referrer="https://www.search.example/?q=me"), max_events=10)
    assert (ev.site, ev.type, ev.path, ev.host) == (
        "news.example",
        "pageview",
        "/a/b",
        "news.example",
    )
    assert ev.referrer_host == "www.search.example"
    assert ev.props is None
    assert ev.visitor_id is None
    assert ev.dnt is None
    assert ev.gpc is False


def test_an_array_and_a_relative_url() -> None:
    body = json.dumps([{**BASE, "url": "/x"}, {**BASE, "type": "signup", "props": {"plan": "pro"}}])
    a, b = parse_events(body.encode(), max_events=10)
    assert a.path == "/x"
    assert a.host is None
    assert b.type == "signup"
    assert json.loads(b.props or "") == {"plan": "pro"}


def test_site_names_are_normalized() -> None:
    [ev] = parse_events(one(**{**BASE, "site": "News.Example."}), max_events=1)
    assert ev.site == "news.example"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "pageview", "url": "/"}, "site"),
        ({**BASE, "site": "not a host"}, "site"),
        ({**BASE, "type": "Page View"}, "type"),
        ({**BASE, "type": 3}, "type"),
        ({**BASE, "url": None}, "url"),
        ({**BASE, "url": "javascript:alert(1)"}, "url"),
        ({**BASE, "url": "//evil.example/"}, "url"),
        ({**BASE, "url": "/" + "a" * 3000}, "url"),
        ({**BASE, "url": "/a\nb"}, "url"),
        ({**BASE, "referrer": "mailto:x@y"}, "referrer"),
        ({**BASE, "referrer": 5}, "referrer"),
        ({**BASE, "props": [1]}, "props"),
        ({**BASE, "props": {"a b": 1}}, "props"),
        ({**BASE, "props": {"k": {"nested": 1}}}, "props.k"),
        ({**BASE, "props": {"k": "x" * 300}}, "props.k"),
        ({**BASE, "props": {f"k{i}": i for i in range(MAX_PROPS + 1)}}, "props"),
        ({**BASE, "id": "short"}, "id"),
        ({**BASE, "gpc": "yes"}, "gpc"),
        ({**BASE, "extra": 1}, "extra"),
    ],
)
def test_refusals_name_the_field(event: dict[str, object], field: str) -> None:
    with pytest.raises(CollectError) as info:
        parse_events(json.dumps(event).encode(), max_events=5)
    assert info.value.field == field
    assert info.value.status == 400
    assert field in info.value.message


def test_array_errors_carry_the_index() -> None:
    body = json.dumps([BASE, {**BASE, "url": "ftp://x"}]).encode()
    with pytest.raises(CollectError) as info:
        parse_events(body, max_events=5)
    assert info.value.field == "events[1].url"


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b"[]", b'"text"', b"\xff\xfe", b"null"])
def test_bodies_that_are_not_events(body: bytes) -> None:
    with pytest.raises(CollectError) as info:
        parse_events(body, max_events=5)
    assert info.value.field == "body"


def test_too_many_events_is_413() -> None:
    with pytest.raises(CollectError) as info:
        parse_events(json.dumps([BASE] * 6).encode(), max_events=5)
    assert info.value.status == 413


def test_navigator_values_other_than_0_and_1_mean_nothing() -> None:
    [ev] = parse_events(one(**BASE, dnt="unspecified", gpc=None), max_events=1)
    assert ev.dnt is None
    assert ev.gpc is False


def _parse(body: bytes, max_events: int) -> list[IncomingEvent] | CollectError:
    try:
        return parse_events(body, max_events=max_events)
    except CollectError as exc:
        return exc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_is_parsed_or_refused_with_a_field(body: bytes) -> None:
    outcome = _parse(body, 3)
    if isinstance(outcome, CollectError):
        assert outcome.field
        assert outcome.status in (400, 413)
        return
    for ev in outcome:
        assert ev.path.startswith("/")
        assert "?" not in ev.path


field_values = st.one_of(
    st.none(), st.integers(), st.text(max_size=40), st.booleans(), st.floats(allow_nan=True)
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["site", "type", "url", "referrer", "props", "id", "dnt", "gpc", "x"]),
        field_values,
    )
)
def test_accepted_events_satisfy_the_schema(event: dict[str, object]) -> None:
    merged = {**BASE, **event}
    outcome = _parse(json.dumps(merged).encode(), 1)
    if isinstance(outcome, CollectError):
        assert outcome.field is not None
        return
    [ev] = outcome
    assert "x" not in event
    assert ev.site
    assert ev.type
    assert ev.path.startswith("/")
    assert ev.visitor_id is None or 16 <= len(ev.visitor_id) <= 64
