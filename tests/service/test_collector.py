"""The collector's two ways to prepare a request agree, event for event."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackpref.service import collector as collector_module
from trackpref.service.collector import Collector
from trackpref.service.config import ServiceConfig
from trackpref.service.events import CollectError, parse_events
from trackpref.service.ingest import Prepared
from trackpref.service.runtime import Service
from trackpref.signals.preference import resolve_headers

event = st.fixed_dictionaries(
    {
        "site": st.sampled_from(["a.example", "b.example"]),
        "type": st.sampled_from(["pageview", "pageview", "signup"]),
        "url": st.sampled_from(["/", "/x", "https://a.example/y?q=1", "/z#f"]),
    },
    optional={
        "referrer": st.sampled_from(
            ["https://search.example/", "https://a.example/", "", "https://www.b.example/p"]
        ),
        "id": st.sampled_from(["v-1234567890abcdef", "v-abcdefghijklmnop"]),
        "dnt": st.sampled_from(["0", "1", "unspecified"]),
        "gpc": st.booleans(),
        "props": st.sampled_from([{"plan": "pro"}, {"n": 3}]),
    },
)
#: What most batches are: the page's script adds nothing to the headers.
plain_event = st.fixed_dictionaries(
    {
        "site": st.sampled_from(["a.example", "b.example"]),
        "type": st.sampled_from(["pageview", "pageview", "signup"]),
        "url": st.sampled_from(["/", "/x", "https://a.example/y?q=1", "/z#f"]),
    },
    optional={
        "referrer": st.sampled_from(["https://search.example/", "https://a.example/", ""]),
        "id": st.sampled_from(["v-1234567890abcdef", "v-abcdefghijklmnop"]),
    },
)
headers = st.sampled_from([(None, None), ("1", None), ("0", None), (None, "1"), ("0", "1")])


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service(
            ServiceConfig(db=str(Path(tmp) / "c.db"), admin_token="x" * 24, run_jobs=False)
        )
        try:
            yield svc.collector
        finally:
            svc.close()


def _comparable(p: Prepared) -> tuple[Any, ...]:
    # The time is the only thing allowed to differ (one per batch vs one per event).
    rows = [(site, ds, enc[1:4], enc[4].explanation) for site, ds, enc in p.rows]
    return rows, p.tallies, p.events, p.kept


def _all_ways(
    collector: Collector, body: bytes, header: tuple[str | None, str | None], cap: int
) -> list[Any]:
    pref = resolve_headers(header[0], header[1])
    events = parse_events(body, max_events=500)
    kwargs: dict[str, Any] = {
        "user_agent": "Mozilla/5.0 (iPhone) Mobile Safari",
        "accept_language": "fr-CA,fr;q=0.8",
        "ip": "192.0.2.1",
        "array": body.startswith(b"["),
    }
    out = []
    ways = [collector._prepare_columns, _one_by_one(collector)]
    if len(events) == 1:
        ways.append(lambda evs, *a, **k: collector._prepare_one(evs[0], *a, **k))
    for way in ways:
        collector._seen.clear()
        collector.cardinality = cap
        try:
            out.append(_comparable(way(events, pref, **kwargs)))
        except CollectError as exc:
            out.append(("error", exc.status, exc.field))
    return out


def _in_turn(
    collector: Collector, bodies: list[bytes], header: tuple[str | None, str | None], cap: int
) -> list[Any]:
    """Each way over the same requests in turn, so later ones meet the caps the
    earlier ones filled (a cap not reached, crossed, or full before the batch)."""
    pref = resolve_headers(header[0], header[1])
    kwargs: dict[str, Any] = {
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "accept_language": "de-DE,de;q=0.9",
        "ip": "192.0.2.7",
        "array": True,
    }
    out = []
    for way in (collector._prepare_columns, _one_by_one(collector)):
        collector._seen.clear()
        collector.cardinality = cap
        answers = []
        for body in bodies:
            answers.append(_comparable(way(parse_events(body, max_events=500), pref, **kwargs)))
        out.append(answers)
    return out


def _one_by_one(collector: Collector) -> Any:
    def run(*args: Any, **kwargs: Any) -> Prepared:
        saved = collector_module.COLUMNS_FROM
        collector_module.COLUMNS_FROM = 10**9
        try:
            return collector.prepare_events(*args, **kwargs)
        finally:
            collector_module.COLUMNS_FROM = saved

    return run


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(event, min_size=1, max_size=60), header=headers, cap=st.sampled_from([2, 500])
)
def test_columns_and_one_by_one_agree(
    collector: Collector,
    events: list[dict[str, Any]],
    header: tuple[str | None, str | None],
    cap: int,
) -> None:
    answers = _all_ways(collector, json.dumps(events).encode(), header, cap)
    assert all(a == answers[0] for a in answers[1:])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(plain_event, min_size=16, max_size=60),
    header=headers,
    cap=st.sampled_from([2, 500]),
    one_site=st.booleans(),
)
def test_plain_batches_agree(
    collector: Collector,
    events: list[dict[str, Any]],
    header: tuple[str | None, str | None],
    cap: int,
    one_site: bool,
) -> None:
    if one_site:  # the common batch, which has a path of its own
        events = [{**e, "site": "a.example"} for e in events]
    answers = _all_ways(collector, json.dumps(events).encode(), header, cap)
    assert all(a == answers[0] for a in answers[1:])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(one=event, header=headers, cap=st.sampled_from([1, 500]))
def test_the_one_event_way_agrees(
    collector: Collector,
    one: dict[str, Any],
    header: tuple[str | None, str | None],
    cap: int,
) -> None:
    answers = _all_ways(collector, json.dumps(one).encode(), header, cap)
    assert len(answers) == 3
    assert all(a == answers[0] for a in answers[1:])


def test_a_refused_event_is_named_by_its_position(collector: Collector) -> None:
    events = [{"site": "a.example", "type": "pageview", "url": "/"}] * 20
    body = json.dumps(events).encode()
    parsed = parse_events(body, max_events=500)
    bad = [parsed[0]] * 7 + [parsed[0]._replace(path="/" + "x" * 5000)] + [parsed[0]] * 12
    with pytest.raises(CollectError) as caught:
        collector.prepare_events(
            bad,
            resolve_headers("0", None),
            user_agent="",
            accept_language=None,
            ip="192.0.2.1",
            array=True,
        )
    assert caught.value.field == "events[7].url"


paths = st.sampled_from([f"/p{i}" for i in range(8)])
referrers = st.sampled_from(["https://search.example/", "https://www.b.example/", "", None])
kinds = st.sampled_from(["pageview", "pageview", "pageview", "signup", "purchase"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.tuples(kinds, paths, referrers), min_size=16, max_size=40),
        min_size=2,
        max_size=4,
    ),
    header=headers,
    cap=st.sampled_from([1, 3, 6, 500]),
    sites=st.sampled_from([["a.example"], ["a.example", "b.example"]]),
    data=st.data(),
)
def test_caps_met_across_batches_agree(
    collector: Collector,
    batches: list[list[tuple[str, str, str | None]]],
    header: tuple[str | None, str | None],
    cap: int,
    sites: list[str],
    data: st.DataObject,
) -> None:
    # Several requests in a row, so later ones meet caps not reached, crossed
    # during the batch, or full before it; one site's batches (counted by set
    # operations) and several sites' (value by value), page views or not.
    bodies = [
        json.dumps(
            [
                {
                    "site": data.draw(st.sampled_from(sites)),
                    "type": kind,
                    "url": url,
                    "referrer": ref,
                }
                for kind, url, ref in batch
            ]
        ).encode()
        for batch in batches
    ]
    columns, one_by_one = _in_turn(collector, bodies, header, cap)
    assert columns == one_by_one
