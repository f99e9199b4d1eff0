"""Rolling raw events into k-anonymous daily aggregates, checked independently."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.ledger.kanon import anonymize
from trackpref.ledger.rollup import (
    MISSING,
    TOTAL,
    Categorical,
    EventBatch,
    Rollup,
    RollupError,
    RollupSpec,
    rollup,
)

DIMS = ("referrer_domain", "device", "region", "preference")
Row = dict[str, object]


def event(
    site: str = "news.example",
    day: str = "2025-03-10",
    visitor: str | None = "v0",
    preference: str = "unset",
    referrer: str = "search.example",
    device: str = "desktop",
    region: str = "US-CA",
) -> Row:
    return {
        "site": site,
        "day": day,
        "visitor_hash": visitor,
        "preference": preference,
        "referrer_domain": referrer,
        "device": device,
        "region": region,
    }


def units_of(rows: list[Row], hashless: str = "event") -> int:
    visitors = {(r["site"], r["day"], r["visitor_hash"]) for r in rows if r["visitor_hash"]}
    bare = sum(1 for r in rows if r["visitor_hash"] is None)
    return len(visitors) + (min(bare, 1) if hashless == "one" else bare)


def verify(result: Rollup, rows: list[Row], spec: RollupSpec) -> None:
    """Recompute every published figure from the raw rows, in plain Python."""
    by_day: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        by_day[(str(r["site"]), str(r["day"]))].append(r)
    totals = {(r.site, r.day): r for r in result.table(TOTAL)}
    mappings = {d: result.mapping(d) for d in spec.dimensions}
    k_dnt = spec.k_for(includes_dnt=True)
    for sd, day_rows in by_day.items():
        dnt = any(r["preference"] == "do-not-track" for r in day_rows)
        need = k_dnt if dnt else spec.k
        units = units_of(day_rows, spec.hashless)
        if units < need:
            assert sd in result.withheld
            assert sd not in totals
            assert not [r for r in result.rows if (r.site, r.day) == sd]
            continue
        total = totals[sd]
        assert (total.pageviews, total.units, total.k) == (len(day_rows), units, need)
        assert total.visitors == len({r["visitor_hash"] for r in day_rows if r["visitor_hash"]})
        for d in spec.dimensions:
            mapping = mappings[d]
            cells: dict[str, list[Row]] = defaultdict(list)
            for r in day_rows:
                value = r.get(d) or MISSING
                cells[mapping[(sd[0], sd[1], str(value))]].append(r)
            published = {r.value: r for r in result.table(d) if (r.site, r.day) == sd}
            assert set(published) == set(cells)  # every unit is in exactly one cell
            for value, members in cells.items():
                row = published[value]
                has_dnt = any(m["preference"] == "do-not-track" for m in members)
                assert row.k == (k_dnt if has_dnt else spec.k)
                assert row.units == units_of(members, spec.hashless) >= row.k
                assert row.pageviews == len(members)
                assert row.visitors == len(
                    {m["visitor_hash"] for m in members if m["visitor_hash"]}
                )
            assert sum(r.pageviews for r in published.values()) == total.pageviews


def test_small_example() -> None:
    rows = [event(visitor=f"v{i}", referrer="search.example") for i in range(12)]
    rows += [event(visitor=f"w{i}", referrer=f"blog{i}.example") for i in range(4)]
    rows += [event(visitor="v0", referrer="search.example")]  # a second page view
    rows += [event(day="2025-03-11", visitor=f"x{i}") for i in range(3)]
    spec = RollupSpec()
    res = rollup(rows, spec)
    assert res.events == 20
    assert res.withheld == (("news.example", "2025-03-11"),)
    (total,) = res.table(TOTAL)
    assert (total.pageviews, total.visitors, total.units) == (17, 16, 16)
    refs = {r.value: (r.pageviews, r.visitors, r.generalized) for r in res.table("referrer_domain")}
    # The four one-visitor blogs cannot stand alone, and "other" (4) would be
    # revealed by the total: search.example joins it.
    assert refs == {"other": (17, 16, True)}
    assert (
        res.mapping("referrer_domain")[("news.example", "2025-03-10", "blog1.example")] == "other"
    )
    verify(res, rows, spec)


def test_a_small_other_takes_the_smallest_published_cell() -> None:
    rows = [event(visitor=f"a{i}", referrer="a.example") for i in range(30)]
    rows += [event(visitor=f"b{i}", referrer="b.example") for i in range(12)]
    rows += [event(visitor=f"c{i}", referrer="c.example") for i in range(3)]
    res = rollup(rows)
    refs = {r.value: r.units for r in res.table("referrer_domain")}
    assert refs == {"a.example": 30, "other": 15}
    verify(res, rows, RollupSpec())


def test_regions_generalize_to_countries() -> None:
    rows = [event(visitor=f"a{i}", region="US-CA") for i in range(15)]
    rows += [event(visitor=f"b{i}", region="US-NV") for i in range(6)]
    rows += [event(visitor=f"c{i}", region="US-UT") for i in range(6)]
    rows += [event(visitor=f"d{i}", region="FR-75") for i in range(11)]
    res = rollup(rows)
    regions = {r.value: r.units for r in res.table("region")}
    assert regions == {"US-CA": 15, "US": 12, "FR-75": 11}
    verify(res, rows, RollupSpec())


def test_hashless_events_under_do_not_track() -> None:
    rows = [event(visitor=None, preference="do-not-track") for _ in range(12)]
    rows += [event(visitor=f"v{i}", preference="allow") for i in range(10)]
    each = rollup(rows, RollupSpec(hashless="event"))
    prefs = {r.value: (r.units, r.visitors) for r in each.table("preference")}
    assert prefs == {"allow": (10, 10), "do-not-track": (12, 0)}
    # Counting all hashless events of a cell as one unit: the DNT cell is 1 unit.
    one = rollup(rows, RollupSpec(hashless="one"))
    assert {r.value: r.units for r in one.table("preference")} == {"other": 11}
    verify(each, rows, RollupSpec(hashless="event"))
    verify(one, rows, RollupSpec(hashless="one"))


def test_eff_policy_needs_5000_for_cells_with_dnt_users() -> None:
    rows = [event(visitor=f"v{i}", preference="allow", device="desktop") for i in range(6000)]
    rows += [event(visitor=f"m{i}", preference="unset", device="mobile") for i in range(300)]
    rows += [event(visitor=None, preference="do-not-track", device="tablet") for _ in range(40)]
    spec = RollupSpec(eff_policy=True, hashless="event")
    res = rollup(rows, spec)
    (total,) = res.table(TOTAL)
    assert total.k == 5000
    devices = {r.value: (r.units, r.k) for r in res.table("device")}
    # tablet (DNT, 40) needs 5000: merging mobile is not enough, desktop too.
    assert devices == {"other": (6340, 5000)}
    prefs = {r.value: (r.units, r.k) for r in res.table("preference")}
    assert prefs == {"other": (6340, 5000)}
    verify(res, rows, spec)
    small = rollup(rows[:4000] + rows[-40:], spec)
    assert small.rows == ()
    assert len(small.withheld) == 1
    # Without the EFF policy, k = 10 applies to every cell.
    plain = rollup(rows, RollupSpec(hashless="event"))
    assert {r.value for r in plain.table("device")} == {"desktop", "mobile", "tablet"}


def test_one_do_not_track_readers_page_views_are_not_k_people_by_default() -> None:
    rows = [event(visitor=f"v{i}", preference="allow", device="desktop") for i in range(50)]
    # One reader under DNT, ten page views from a small forum: no hash links them,
    # and nothing says they are ten people.
    rows += [event(visitor=None, preference="do-not-track", device="tablet") for _ in range(10)]
    res = rollup(rows, RollupSpec())
    devices = {r.value: r.units for r in res.table("device")}
    assert "tablet" not in devices, "ten hashless events published as a cell of k=10"
    # The lone unit merges into "other", and so must enough of the rest to hide it.
    assert devices == {"other": 51}
    verify(res, rows, RollupSpec())
    per_event = rollup(rows, RollupSpec(hashless="event"))
    assert {r.value: r.units for r in per_event.table("device")}["tablet"] == 10


def test_rows_as_tuples_ts_and_missing_values() -> None:
    base = 1741564800.0  # 2025-03-10T00:00:00Z
    dict_rows = [
        {"site": "s.example", "ts": base + i, "visitor_hash": f"v{i}", "preference": "allow"}
        for i in range(10)
    ]
    res = rollup(dict_rows)
    assert {(r.day, r.value) for r in res.table("device")} == {("2025-03-10", MISSING)}
    tuples = [("s.example", "2025-03-10", f"v{i}", "allow", "r", "d", "US") for i in range(10)]
    res2 = rollup(tuples)
    assert res2.table(TOTAL)[0].units == 10


def test_event_batch_columns_match_rows() -> None:
    rng = random.Random(7)
    rows = [
        event(
            site=rng.choice(["a.example", "b.example"]),
            visitor=rng.choice([None, *[f"v{i}" for i in range(40)]]),
            preference=rng.choice(["unset", "allow", "do-not-track"]),
            referrer=rng.choice(["r1", "r2", "r3", "r4"]),
            region=rng.choice(["US-CA", "US-NV", "FR-75"]),
        )
        for _ in range(500)
    ]
    from_rows = rollup(rows)
    batch = EventBatch.from_rows(rows)
    from_batch = rollup(batch)
    assert from_batch.rows == from_rows.rows
    assert from_batch.withheld == from_rows.withheld
    assert from_batch.mapping("region") == from_rows.mapping("region")
    verify(from_rows, rows, RollupSpec())


def test_bad_input_is_named() -> None:
    with pytest.raises(RollupError, match="row 1: missing preference"):
        rollup([event(), {"site": "s", "day": "2025-03-10"}])
    with pytest.raises(RollupError, match="preference: 'maybe' is not one of"):
        rollup([event(preference="maybe")])
    with pytest.raises(RollupError, match="day: 'yesterday' is not an ISO date"):
        rollup([event(day="yesterday")])
    with pytest.raises(RollupError, match="row 0: site: must be a non-empty string"):
        rollup([event(site="")])
    with pytest.raises(RollupError, match="row 0: 3 values"):
        rollup([("s", "2025-03-10", None)])
    with pytest.raises(RollupError, match="row 0: referrer_domain: must be a string"):
        rollup([{**event(), "referrer_domain": 7}])
    with pytest.raises(RollupError, match="row 0: visitor_hash"):
        rollup([event(visitor=3)])  # type: ignore[arg-type]
    with pytest.raises(RollupError, match="row 0: ts: must be a number"):
        rollup([{"site": "s", "ts": "noon", "preference": "unset"}])
    with pytest.raises(RollupError, match="no 'browser' column"):
        rollup(EventBatch.from_rows([event()], ("device",)), RollupSpec(dimensions=("browser",)))
    with pytest.raises(RollupError, match="k_dnt: 5 is below k = 10"):
        RollupSpec(k_dnt=5)
    with pytest.raises(RollupError, match="visitor: 1 values for 2 events"):
        EventBatch(
            Categorical(np.zeros(2, np.int64), ("s",)),
            Categorical(np.zeros(2, np.int64), ("2025-03-10",)),
            Categorical(np.zeros(2, np.int64), ("unset",)),
            np.zeros(1, np.int64),
        )
    with pytest.raises(RollupError, match="codes out of range"):
        Categorical(np.array([0, 2]), ("a", "b"))
    assert rollup([]).rows == ()


streams = st.lists(
    st.builds(
        event,
        site=st.sampled_from(["a.example", "b.example"]),
        day=st.sampled_from(["2025-03-10", "2025-03-11"]),
        visitor=st.one_of(st.none(), st.sampled_from([f"v{i}" for i in range(60)])),
        preference=st.sampled_from(["unset", "allow", "do-not-track"]),
        referrer=st.sampled_from(["r1"] * 6 + ["r2"] * 3 + ["r3", "r4", "r5", "r6"]),
        device=st.sampled_from(["desktop", "mobile", "tablet"]),
        region=st.sampled_from(["US-CA"] * 4 + ["US-NV", "US", "FR-75", "FR-69", "JP"]),
    ),
    max_size=250,
)


@settings(max_examples=120, deadline=None)
@given(
    rows=streams,
    k=st.integers(2, 30),
    k_dnt_extra=st.integers(0, 30),
    hashless=st.sampled_from(["event", "one"]),
)
def test_property_every_published_cell_is_k_anonymous(
    rows: list[Row], k: int, k_dnt_extra: int, hashless: str
) -> None:
    spec = RollupSpec(k=k, k_dnt=k + k_dnt_extra, hashless=hashless)  # type: ignore[arg-type]
    res = rollup(rows, spec)
    for r in res.rows:
        assert r.units >= r.k >= k
    verify(res, rows, spec)
    # The vectorized generalization makes exactly kanon's choices.
    for d in spec.dimensions:
        published = {(r.site, r.day, r.value): r.units for r in res.table(d)}
        assert published == kanon_reference(rows, spec, d)


def kanon_reference(rows: list[Row], spec: RollupSpec, d: str) -> dict[tuple[str, ...], int]:
    """The same breakdown through the cell-by-cell :func:`kanon.anonymize`."""
    members: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    for r in rows:
        members[(str(r["site"]), str(r["day"]), str(r.get(d) or MISSING))].append(r)
    cells = {key: units_of(m, spec.hashless) for key, m in members.items()}
    k_dnt = spec.k_for(includes_dnt=True)
    cell_k = {
        key: k_dnt
        for key, m in members.items()
        if any(r["preference"] == "do-not-track" for r in m)
    }
    hierarchy = spec.hierarchies.get(d)
    res = anonymize(
        cells,
        ["site", "day", d],
        spec.k,
        quasi_identifiers=[d],
        hierarchies={d: hierarchy} if hierarchy else {},
        cell_k=cell_k,
        count_of=lambda keys: units_of([r for key in keys for r in members[key]], spec.hashless),
    )
    return {c.key: c.count for c in res.cells}


def generated_events(n: int, seed: int) -> list[Row]:
    rng = random.Random(seed)
    sites = ["news.example", "shop.example", "tiny.example"]
    refs = [f"ref{i}.example" for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    regions = [f"{c}-{r}" for c in ("US", "FR", "DE", "JP") for r in range(8)]
    rows = []
    for _ in range(n):
        site = rng.choices(sites, weights=[10, 5, 0.002])[0]
        day = f"2025-03-{rng.randint(10, 12)}"
        pref = rng.choices(["unset", "allow", "do-not-track"], weights=[6, 3, 1])[0]
        visitor = None if pref == "do-not-track" else f"{site}{day}{rng.randint(0, 9000)}"
        rows.append(
            event(
                site=site,
                day=day,
                visitor=visitor,
                preference=pref,
                referrer=rng.choices(refs, weights=weights)[0],
                device=rng.choices(["desktop", "mobile", "tablet"], weights=[6, 4, 1])[0],
                region=rng.choice(regions),
            )
        )
    return rows


def unit_records(result: Rollup, rows: list[Row]) -> list[tuple[str, ...]]:
    """One record per unit per dimension: (site, day, dimension, published value)."""
    seen: set[tuple[str, ...]] = set()
    records: list[tuple[str, ...]] = []
    mappings = {d: result.mapping(d) for d in DIMS}
    for i, r in enumerate(rows):
        site, day = str(r["site"]), str(r["day"])
        if (site, day) in result.withheld:
            continue
        who = str(r["visitor_hash"]) if r["visitor_hash"] else f"#event{i}"
        for d in (TOTAL, *DIMS):
            value = TOTAL if d == TOTAL else mappings[d][(site, day, str(r[d]))]
            rec = (site, day, d, value, who)
            if rec not in seen:
                seen.add(rec)
                records.append(rec[:4])
    return records


@pytest.mark.slow
@pytest.mark.parametrize("eff_policy", [False, True])
def test_published_aggregates_verified_by_pycanon(eff_policy: bool, tmp_path: Path) -> None:
    from pycanon_env import k_anonymity

    rows = generated_events(60_000, seed=3)
    spec = RollupSpec(k=10, eff_policy=eff_policy)
    res = rollup(rows, spec)
    verify(res, rows, spec)
    assert ("tiny.example", "2025-03-10") in res.withheld
    records = unit_records(res, rows)
    qi = ("site", "day", "dimension", "value")
    path = tmp_path / "units.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(qi)
        w.writerows(records)
    k, n = k_anonymity(path, qi)
    assert n == len(records)
    assert k >= 10
    # Cells that include do-not-track users, alone: 5000 under the EFF policy.
    dnt_cells = {
        (r.site, r.day, r.dimension, r.value)
        for r in res.rows
        if r.k == spec.k_for(includes_dnt=True)
    }
    dnt_records = [rec for rec in records if rec in dnt_cells]
    assert dnt_records
    path = tmp_path / "dnt_units.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(qi)
        w.writerows(dnt_records)
    k_dnt, _ = k_anonymity(path, qi)
    assert k_dnt >= (5000 if eff_policy else 10)
    # The raw events are not k-anonymous: the check can fail.
    raw = tmp_path / "raw.csv"
    with raw.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("site", "day", "referrer_domain", "region"))
        w.writerows((r["site"], r["day"], r["referrer_domain"], r["region"]) for r in rows)
    assert k_anonymity(raw, ("site", "day", "referrer_domain", "region"))[0] < 10
