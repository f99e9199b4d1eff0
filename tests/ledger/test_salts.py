"""Daily-rotating salted visitor hashes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.ledger.salts import (
    DEFAULT_GRACE,
    MemorySaltStore,
    SaltStore,
    SaltWindowClosed,
    VisitorHasher,
    window_of,
)
from trackpref.ledger.storage import open_store

DAY = 86400.0
# 2025-03-10 00:00:00 UTC
MIDNIGHT = dt.datetime(2025, 3, 10, tzinfo=dt.UTC).timestamp()
UA = "Mozilla/5.0 (X11; Linux x86_64)"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(t: float = MIDNIGHT + 12 * 3600) -> tuple[VisitorHasher, MemorySaltStore, Clock]:
    store = MemorySaltStore()
    clock = Clock(t)
    return VisitorHasher(store, clock), store, clock


def test_window_is_the_utc_date() -> None:
    assert window_of(MIDNIGHT) == "2025-03-10"
    assert window_of(MIDNIGHT - 1) == "2025-03-09"
    assert window_of(MIDNIGHT, ZoneInfo("America/Los_Angeles")) == "2025-03-09"


def test_same_visitor_same_day_same_hash() -> None:
    hasher, store, clock = make()
    h1 = hasher.visitor_hash("news.example", "192.0.2.1", UA)
    clock.t += 3 * 3600
    assert hasher.visitor_hash("news.example", "192.0.2.1", UA) == h1
    assert len(h1) == 32
    assert int(h1, 16) >= 0
    assert store.windows() == ["2025-03-10"]
    # The hash holds neither the IP nor the user agent.
    assert "192.0.2.1" not in h1


def test_spellings_of_one_address_are_one_visitor() -> None:
    hasher, _, _ = make()
    assert hasher.visitor_hash("s", "::ffff:192.0.2.1", UA) == hasher.visitor_hash(
        "s", "192.0.2.1", UA
    )
    assert hasher.visitor_hash("s", "2001:db8::1", UA) == hasher.visitor_hash(
        "s", "2001:0db8:0000::0001", UA
    )
    # Not an address: hashed as given, not refused.
    assert hasher.visitor_hash("s", "unknown", UA) != hasher.visitor_hash("s", "unknown2", UA)


def test_rotation_unlinks_days_and_destroys_old_salts() -> None:
    hasher, store, clock = make(MIDNIGHT + 23 * 3600)
    monday = hasher.visitor_hash("news.example", "192.0.2.1", UA)
    monday_salt = store.get_salt("2025-03-10")
    assert monday_salt is not None

    clock.t = MIDNIGHT + DAY + 600  # 00:10 on Tuesday: still within the grace
    tuesday = hasher.visitor_hash("news.example", "192.0.2.1", UA)
    assert tuesday != monday
    assert hasher.rotate() == 0
    late = hasher.visitor_hash("news.example", "192.0.2.1", UA, now=MIDNIGHT + DAY - 5)
    assert late == monday  # an event from 23:59:55, processed after midnight

    clock.t = MIDNIGHT + DAY + DEFAULT_GRACE + 1
    assert hasher.rotate() == 1
    assert store.get_salt("2025-03-10") is None
    assert store.windows() == ["2025-03-11"]
    assert monday_salt not in hasher._cache.values()
    with pytest.raises(SaltWindowClosed, match="2025-03-10"):
        hasher.visitor_hash("news.example", "192.0.2.1", UA, now=MIDNIGHT + DAY - 5)
    assert store.get_salt("2025-03-10") is None  # refusing did not recreate it
    assert hasher.visitor_hash("news.example", "192.0.2.1", UA) == tuesday


def test_far_future_and_past_events_are_refused() -> None:
    hasher, store, _ = make()
    with pytest.raises(SaltWindowClosed, match="now:"):
        hasher.visitor_hash("s", "192.0.2.1", UA, now=MIDNIGHT + 3 * DAY)
    with pytest.raises(SaltWindowClosed):
        hasher.visitor_hash("s", "192.0.2.1", UA, now=MIDNIGHT - 3 * DAY)
    assert store.windows() == []


def test_bad_input_is_named() -> None:
    hasher, _, _ = make()
    with pytest.raises(TypeError, match="user_agent: must be a string"):
        hasher.visitor_hash("s", "192.0.2.1", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="site"):
        hasher.visitor_hash(b"s", "192.0.2.1", UA)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grace"):
        VisitorHasher(MemorySaltStore(), grace=-1)


def test_processes_sharing_a_store_agree() -> None:
    store = MemorySaltStore()
    clock = Clock(MIDNIGHT + 100)
    a, b = VisitorHasher(store, clock), VisitorHasher(store, clock)
    assert a.visitor_hash("s", "192.0.2.9", UA) == b.visitor_hash("s", "192.0.2.9", UA)


def test_the_ledger_store_is_a_salt_store(tmp_path: Path) -> None:
    store: SaltStore = open_store(tmp_path / "ledger.db", site="news.example")
    clock = Clock(MIDNIGHT + 23.5 * 3600)
    hasher = VisitorHasher(store, clock)
    first = hasher.visitor_hash("news.example", "192.0.2.1", UA)
    assert VisitorHasher(store, clock).visitor_hash("news.example", "192.0.2.1", UA) == first
    clock.t = MIDNIGHT + 2 * DAY
    assert hasher.rotate() == 1
    assert store.get_salt("2025-03-10") is None


sites = st.sampled_from(["news.example", "shop.example", "a.test"])
ips = st.ip_addresses().map(str)
agents = st.text(max_size=40)
moments = st.floats(min_value=0, max_value=DAY - 1, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(site=sites, ip=ips, ua=agents, t1=moments, t2=moments)
def test_property_same_inputs_same_day_same_hash(
    site: str, ip: str, ua: str, t1: float, t2: float
) -> None:
    hasher, _, clock = make(MIDNIGHT + t1)
    h1 = hasher.visitor_hash(site, ip, ua)
    clock.t = MIDNIGHT + t2
    assert hasher.visitor_hash(site, ip, ua) == h1


@settings(max_examples=80, deadline=None)
@given(ip=ips, ua=agents, t=moments, other_site=sites, days=st.integers(1, 30))
def test_property_another_day_or_site_gives_another_hash(
    ip: str, ua: str, t: float, other_site: str, days: int
) -> None:
    hasher, store, clock = make(MIDNIGHT + t)
    h = hasher.visitor_hash("news.example", ip, ua)
    if other_site != "news.example":
        assert hasher.visitor_hash(other_site, ip, ua) != h
    old_salt = store.get_salt(window_of(clock.t))
    # Some time on a later day, past the grace after its midnight.
    clock.t = MIDNIGHT + days * DAY + DEFAULT_GRACE + 1 + t % (DAY - DEFAULT_GRACE - 2)
    hasher.rotate()
    assert hasher.visitor_hash("news.example", ip, ua) != h
    # After rotation the old salt is gone from the store and from memory.
    assert old_salt not in [store.get_salt(w) for w in store.windows()]
    assert old_salt not in hasher._cache.values()
    assert all(w >= window_of(clock.t - DEFAULT_GRACE) for w in store.windows())


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.floats(min_value=0, max_value=3 * DAY, allow_nan=False), max_size=12))
def test_property_no_salt_outlives_its_window_plus_grace(steps: list[float]) -> None:
    hasher, store, clock = make(MIDNIGHT)
    for step in steps:
        clock.t += step
        hasher.visitor_hash("s", "192.0.2.1", UA)
        hasher.rotate()
        oldest_allowed = window_of(clock.t - DEFAULT_GRACE)
        assert all(w >= oldest_allowed for w in store.windows())
        assert len(store.windows()) <= 3
