"""The dashboard's numbers: the closed-day cache never changes an answer."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from conftest import service_of
from trackpref.service.stats import TallyCache, site_stats

SITE = "news.example"


def midnight(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()


def test_only_settled_closed_days_are_cached() -> None:
    cache = TallyCache(settle=3600)
    day = dt.date(2026, 1, 10)
    iso = day.isoformat()
    tallies = {"pageviews": {"total": 3}}
    cache.put(SITE, iso, tallies, now=midnight(day) + 3600)
    assert cache.get(SITE, iso) is None, "the day is not over"
    cache.put(SITE, iso, tallies, now=midnight(day) + 86400 + 60)
    assert cache.get(SITE, iso) is None, "its rollup may still add unique visitors"
    cache.put(SITE, iso, {**tallies, "visitors": {"total": 2}}, now=midnight(day) + 86400 + 60)
    assert cache.get(SITE, iso) is not None, "closed and rolled up: final"
    other = (day + dt.timedelta(days=1)).isoformat()
    cache.put(SITE, other, tallies, now=midnight(day) + 3 * 86400)
    assert cache.get(SITE, other) == tallies, "closed long enough ago: final without visitors"


def test_the_cache_is_bounded() -> None:
    cache = TallyCache(max_days=2, settle=0)
    late = midnight(dt.date(2027, 1, 1))
    for d in range(1, 5):
        cache.put(SITE, f"2026-01-0{d}", {"pageviews": {"total": d}}, now=late)
    assert cache.get(SITE, "2026-01-01") is None
    assert cache.get(SITE, "2026-01-04") == {"pageviews": {"total": 4}}


def test_cached_and_uncached_answers_agree(client: TestClient) -> None:
    svc = service_of(client)
    today = dt.datetime.now(dt.UTC).date()
    closed = (today - dt.timedelta(days=3)).isoformat()
    with svc.root.transaction():
        svc.tables.add_tallies(
            {
                (SITE, closed, "pageviews", "total"): 5,
                (SITE, closed, "signal", "gpc"): 2,
                (SITE, closed, "signal", "unset"): 3,
                (SITE, closed, "path", "/a"): 5,
            }
        )
    client.post("/api/collect", json={"site": SITE, "type": "pageview", "url": "/b"})
    store = svc.collector.store_for(SITE)
    cache = TallyCache(settle=0)
    plain = site_stats(svc.tables, store, svc.inventory, days=7)
    first = site_stats(svc.tables, store, svc.inventory, days=7, cache=cache)
    assert cache.get(SITE, closed) is not None
    again = site_stats(svc.tables, store, svc.inventory, days=7, cache=cache)
    for answer in (first, again):
        assert answer["pageviews"] == plain["pageviews"]
        assert answer["signals"] == plain["signals"]
        assert answer["paths"] == plain["paths"]
    assert plain["pageviews"]["total"] == 6
    assert dict(plain["paths"]) == {"/a": 5, "/b": 1}
