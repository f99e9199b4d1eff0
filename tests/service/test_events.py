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


_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["", "0", "1", "pageview", "signup", "Bad Type", "x" * 300]),
    st.sampled_from(["news.example", "NEWS.example.", "xn--bcher-kva.example", "-bad-.example"]),
    st.sampled_from(["/", "/a?q=1#f", "https://news.example/p", "ftp://x.example/", "//evil"]),
    st.sampled_from(["https://search.example/?q=secret", "not a url", "http://[::1", "/x"]),
    st.sampled_from(["v-1234567890abcdef", "short", "v-" + "a" * 70]),
    st.just({"plan": "pro"}),
    st.just([1, 2]),
)
_plain = st.fixed_dictionaries(
    {
        "site": st.sampled_from(["news.example", "News.Example", "b.example"]),
        "type": st.sampled_from(["pageview", "pageview", "signup"]),
        "url": st.sampled_from(["/", "/a?q=1#f", "https://news.example/p", "https://b.example"]),
    },
    optional={
        "referrer": st.sampled_from([None, "", "https://search.example/?q=1", "https://x.example"]),
        "id": st.sampled_from([None, "v-1234567890abcdef"]),
        "dnt": st.sampled_from([None, "0", "1", "unspecified"]),
        "gpc": st.sampled_from([None, True, False]),
    },
)
_mutation = st.tuples(
    st.integers(0, 39),
    st.sampled_from(["site", "type", "url", "referrer", "id", "dnt", "gpc", "props", "other"]),
    _value,
)


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_plain, min_size=16, max_size=40),
    mutations=st.lists(_mutation, max_size=2),
)
def test_arrays_checked_by_columns_or_one_by_one_agree(
    events: list[dict[str, object]], mutations: list[tuple[int, str, object]]
) -> None:
    """The column check may only say "all valid, here they are" or "look closer"."""
    from trackpref.service.events import _columns, _event, _event_fast

    for i, key, value in mutations:
        events[i % len(events)] = {**events[i % len(events)], key: value}
    try:
        each: object = [_event_fast(e) or _event(e, f"events[{i}]") for i, e in enumerate(events)]
    except CollectError:
        each = None
    whole = _columns(json.loads(json.dumps(events)))
    if whole is not None:
        assert whole == each
        assert all(type(e) is IncomingEvent for e in whole)
        # The columns the collector reads are the events' fields, in order.
        assert list(zip(*whole.columns, strict=True)) == [tuple(e) for e in each]
    elif not mutations:
        raise AssertionError("a batch of plain, valid events must pass the column check")
    body = json.dumps(events).encode()
    if each is None:
        with pytest.raises(CollectError):
            parse_events(body, max_events=500)
    else:
        assert parse_events(body, max_events=500) == each


def test_a_plain_batch_takes_the_column_check() -> None:
    from trackpref.service.events import _columns

    events = [{"site": "news.example", "type": "pageview", "url": f"/p{i}"} for i in range(20)]
    batch = _columns(events)
    assert batch is not None
    assert _columns([*events, {**events[0], "props": {"a": 1}}]) is None
    # Read as a sequence, the columns are the events.
    assert len(batch) == 20
    assert batch[3].path == "/p3"
    assert [e.path for e in batch[-2:]] == ["/p18", "/p19"]
    assert batch == list(batch)
    assert list(batch) == batch
    assert batch != list(batch)[:-1]
    assert batch != "not events"
    assert "EventColumns([IncomingEvent(site='news.example'" in repr(batch)


def test_a_utf8_byte_order_mark_is_ignored() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(BASE).encode()
    [ev] = parse_events(body, max_events=1)
    assert ev.site == "news.example"
    with pytest.raises(CollectError, match="not JSON"):
        parse_events("\ufeff".encode("utf-16") + json.dumps(BASE).encode("utf-16-le"), max_events=1)


@pytest.mark.parametrize("dnt", [5, ["1"], {"a": 1}, True, 1.0])
@pytest.mark.parametrize("count", [1, 3, 21])  # one event, a short array, the column path
def test_a_dnt_that_is_not_text_is_named(dnt: object, count: int) -> None:
    events = [dict(BASE) for _ in range(count)]
    events[-1]["dnt"] = dnt  # type: ignore[assignment]
    body = json.dumps(events[0] if count == 1 else events).encode()
    with pytest.raises(CollectError) as info:
        parse_events(body, max_events=100)
    where = "" if count == 1 else f"events[{count - 1}]."
    assert info.value.field == f"{where}dnt"


def test_a_dnt_the_browser_does_not_define_is_no_preference() -> None:
    for said in ("unspecified", "yes", ""):
        [ev] = parse_events(one(**BASE, dnt=said), max_events=1)
        assert ev.dnt is None
