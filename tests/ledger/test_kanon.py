"""k-anonymous aggregates: generalization, suppression, differencing, per-cell k."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.ledger.kanon import (
    EFF_MIN_K,
    OTHER,
    Hierarchy,
    KAnonError,
    KAnonymized,
    Strategy,
    anonymize,
    required_k,
)

Key = tuple[str, ...]
REGION = Hierarchy(separator="-")


def test_required_k() -> None:
    assert required_k(10, eff_policy=False, includes_dnt_users=True) == 10
    assert required_k(10, eff_policy=True, includes_dnt_users=False) == 10
    assert required_k(10, eff_policy=True, includes_dnt_users=True) == EFF_MIN_K == 5000
    assert required_k(6000, eff_policy=True, includes_dnt_users=True) == 6000
    for bad in (1, 0, -3, 2.5, True):
        with pytest.raises(KAnonError, match="k: must be an integer of at least 2"):
            required_k(bad, eff_policy=False, includes_dnt_users=False)  # type: ignore[arg-type]


def test_hierarchy() -> None:
    assert REGION.chain("US-CA") == ("US-CA", "US", OTHER)
    assert REGION.chain("FR") == ("FR", OTHER)
    assert REGION.parent(OTHER) is None
    h = Hierarchy({"Paris": "FR", "FR": "EU", "Lyon": "FR"}, top="world")
    assert h.chain("Paris") == ("Paris", "FR", "EU", "world")
    assert h.chain("Tokyo") == ("Tokyo", "world")
    with pytest.raises(KAnonError, match="cycle"):
        Hierarchy({"a": "b", "b": "a"})
    with pytest.raises(KAnonError, match="top"):
        Hierarchy({OTHER: "x"})


def test_small_cells_merge_into_other() -> None:
    cells: dict[Key, int] = {("a",): 50, ("b",): 12, ("c",): 4, ("d",): 3, ("e",): 3}
    res = anonymize(cells, ["referrer"], k=10)
    assert res.as_counts() == {("a",): 50, ("b",): 12, ("other",): 10}
    other = next(c for c in res.cells if c.key == ("other",))
    assert other.generalized
    assert set(other.members) == {("c",), ("d",), ("e",)}
    assert not next(c for c in res.cells if c.key == ("a",)).generalized
    assert res.suppressed == ()
    assert res.withheld_partitions == ()
    assert res.label_of()[("d",)] == ("other",)


def test_other_below_k_takes_the_smallest_published_cell() -> None:
    # "other" would hold 3: a total minus the published cells would reveal it.
    cells: dict[Key, int] = {("a",): 50, ("b",): 12, ("c",): 3}
    res = anonymize(cells, ["referrer"], k=10)
    assert res.as_counts() == {("a",): 50, ("other",): 15}
    assert sum(res.as_counts().values()) == sum(cells.values())


def test_a_population_below_k_publishes_nothing() -> None:
    res = anonymize({("a",): 4, ("b",): 3}, ["referrer"], k=10)
    assert res.cells == ()
    assert set(res.suppressed) == {("a",), ("b",)}
    assert res.withheld_partitions == ((),)


def test_generalization_climbs_the_hierarchy() -> None:
    cells: dict[Key, int] = {
        ("US-CA",): 40,
        ("US-NV",): 4,
        ("US-UT",): 7,
        ("US",): 2,  # events located to the country only
        ("FR-75",): 12,
        ("FR-69",): 3,
        ("DE-BE",): 2,
        ("JP",): 9,
    }
    res = anonymize(cells, ["region"], k=10, hierarchies={"region": REGION})
    counts = res.as_counts()
    assert counts == {("US-CA",): 40, ("US",): 13, ("FR-75",): 12, ("other",): 14}
    labels = res.label_of()
    assert labels[("US-NV",)] == ("US",)
    assert labels[("US",)] == ("US",)
    assert labels[("FR-69",)] == ("other",)
    assert labels[("JP",)] == ("other",)


def test_partitions_are_independent_and_never_coarsened() -> None:
    cells: dict[Key, int] = {
        ("2025-03-10", "a"): 20,
        ("2025-03-10", "b"): 3,
        ("2025-03-11", "a"): 5,
    }
    res = anonymize(cells, ["day", "referrer"], k=10, quasi_identifiers=["referrer"])
    assert res.as_counts() == {("2025-03-10", "other"): 23}
    assert res.withheld_partitions == (("2025-03-11",),)
    assert res.suppressed == (("2025-03-11", "a"),)


def test_per_cell_k_for_do_not_track_users() -> None:
    k_dnt = required_k(10, eff_policy=True, includes_dnt_users=True)
    cells: dict[Key, int] = {("allow",): 9000, ("unset",): 4500, ("do-not-track",): 800}
    res = anonymize(cells, ["preference"], k=10, cell_k={("do-not-track",): k_dnt})
    # The DNT cell cannot stand alone; "other" inherits its k and must reach 5000,
    # so it takes the smallest published cell.
    by_key = {c.key: c for c in res.cells}
    assert set(by_key) == {("allow",), ("other",)}
    assert (by_key[("other",)].k, by_key[("other",)].count) == (5000, 5300)
    assert (by_key[("allow",)].k, by_key[("allow",)].count) == (10, 9000)


def test_non_additive_counts_use_the_union() -> None:
    visitors: dict[Key, set[int]] = {
        ("a",): set(range(30)),
        ("b",): set(range(100, 106)),
        ("c",): set(range(100, 106)),  # the same 6 people as b
        ("d",): set(range(200, 203)),
    }

    def count_of(keys: Sequence[Key]) -> int:
        return len(set().union(*(visitors[key] for key in keys)))

    cells: dict[Key, int] = {key: len(v) for key, v in visitors.items()}
    res = anonymize(cells, ["referrer"], k=10, count_of=count_of)
    by_key = {c.key: c for c in res.cells}
    # b + c + d sum to 15 but hold 9 people: not enough, so "a" joins them.
    assert set(by_key) == {("other",)}
    assert by_key[("other",)].count == 39


def test_suppression_protects_against_differencing_with_the_total() -> None:
    cells: dict[Key, int] = {("a",): 50, ("b",): 11, ("c",): 3}
    res = anonymize(cells, ["referrer"], k=10, strategy="suppress")
    assert res.as_counts() == {("a",): 50}
    assert set(res.suppressed) == {("b",), ("c",)}  # total - a = 14, not 3


def test_suppression_two_way_table_with_row_and_column_totals() -> None:
    cells: dict[Key, int] = {
        ("desktop", "US"): 30,
        ("desktop", "FR"): 4,
        ("mobile", "US"): 25,
        ("mobile", "FR"): 20,
        ("tablet", "US"): 15,
        ("tablet", "FR"): 12,
    }
    margins = [(), ("device",), ("country",)]
    res = anonymize(cells, ["device", "country"], k=10, strategy="suppress", margins=margins)
    _check_margins(res, cells, 10, margins)
    assert ("desktop", "FR") in res.suppressed
    assert len(res.suppressed) >= 2


def test_suppressed_total_below_k_is_reported() -> None:
    cells: dict[Key, int] = {("desktop", "US"): 30, ("desktop", "FR"): 4, ("mobile", "US"): 25}
    res = anonymize(cells, ["device", "country"], k=10, strategy="suppress", margins=[("country",)])
    assert [(w.margin, w.values) for w in res.withheld_totals] == [(("country",), ("FR",))]


def test_bad_input_is_named() -> None:
    with pytest.raises(KAnonError, match="must be a tuple of 2 values"):
        anonymize({("a",): 3}, ["x", "y"])
    with pytest.raises(KAnonError, match="values must be strings"):
        anonymize({("a", 3): 3}, ["x", "y"])  # type: ignore[dict-item]
    with pytest.raises(KAnonError, match="non-negative integer"):
        anonymize({("a",): -1}, ["x"])
    with pytest.raises(KAnonError, match="not dimensions"):
        anonymize({("a",): 1}, ["x"], quasi_identifiers=["y"])
    with pytest.raises(KAnonError, match="not quasi-identifiers"):
        anonymize({("a",): 1}, ["x"], hierarchies={"z": REGION})
    with pytest.raises(KAnonError, match="strategy"):
        anonymize({("a",): 1}, ["x"], strategy="blur")
    with pytest.raises(KAnonError, match="names repeat"):
        anonymize({("a", "b"): 1}, ["x", "x"])
    with pytest.raises(KAnonError, match="k: must be"):
        anonymize({("a",): 1}, ["x"], k=1)
    with pytest.raises(KAnonError, match="have hierarchies"):
        anonymize(
            {("a",): 1}, ["x"], strategy="suppress", hierarchies={"x": REGION}, margins=[("x",)]
        )


# -- properties ---------------------------------------------------------------


def _chain_ok(original: str, label: str, hierarchy: Hierarchy | None) -> bool:
    return label in (hierarchy or Hierarchy()).chain(original)


def _check_common(
    res: KAnonymized,
    cells: dict[Key, int],
    k: int,
    cell_k: dict[Key, int],
    hierarchies: dict[str, Hierarchy],
) -> None:
    nonzero = {key for key, c in cells.items() if c}
    seen: list[Key] = [m for c in res.cells for m in c.members] + list(res.suppressed)
    assert len(seen) == len(set(seen))
    assert set(seen) == nonzero
    for cell in res.cells:
        need = max(k, *(cell_k.get(m, k) for m in cell.members))
        assert cell.k == need
        assert cell.count >= need  # the guarantee
        assert cell.count == sum(cells[m] for m in cell.members)
        for m in cell.members:
            for i, dim in enumerate(res.dimensions):
                if dim in res.quasi_identifiers:
                    assert _chain_ok(m[i], cell.key[i], hierarchies.get(dim))
                else:
                    assert m[i] == cell.key[i]
    assert len({c.key for c in res.cells}) == len(res.cells)


def _check_margins(
    res: KAnonymized, cells: dict[Key, int], k: int, margins: Sequence[Sequence[str]]
) -> None:
    labels = res.label_of()
    for margin in margins:
        pos = [res.dimensions.index(m) for m in margin]
        part = [i for i, d in enumerate(res.dimensions) if d not in res.quasi_identifiers]
        remainder: dict[Key, int] = {}
        for key in res.suppressed:
            published_like = labels[key]
            assert published_like is None
            group = tuple(key[i] for i in part + pos)
            remainder[group] = remainder.get(group, 0) + cells[key]
        withheld = {
            (*w.partition, *w.values) for w in res.withheld_totals if w.margin == tuple(margin)
        }
        for group, mass in remainder.items():
            # The total minus the published cells reveals "mass": it must be 0 or >= k,
            # unless the total itself is declared unpublishable.
            assert (
                mass >= k
                or group in withheld
                or (len(pos) == 0 and group in res.withheld_partitions)
            )


tables = st.integers(1, 3).flatmap(
    lambda q: st.dictionaries(
        st.tuples(
            st.sampled_from(["d1", "d2"]),
            *[st.sampled_from(["US-CA", "US-NV", "US", "FR-75", "FR", "JP", "x", "y"])] * q,
        ),
        st.integers(0, 40),
        max_size=40,
    )
)


@settings(max_examples=150, deadline=None)
@given(
    cells=tables,
    k=st.integers(2, 25),
    use_hierarchy=st.booleans(),
    dnt=st.sets(st.integers(0, 39), max_size=5),
    strategy=st.sampled_from(list(Strategy)),
)
def test_property_every_published_cell_reaches_k(
    cells: dict[Key, int], k: int, use_hierarchy: bool, dnt: set[int], strategy: Strategy
) -> None:
    width = len(next(iter(cells))) if cells else 2
    dims = ["day", *[f"q{i}" for i in range(width - 1)]]
    hierarchies = {"q0": REGION} if use_hierarchy and width > 1 else {}
    keys = sorted(cells)
    cell_k = {keys[i]: 3 * k for i in dnt if i < len(keys)}
    margins: list[tuple[str, ...]] = [()]
    if strategy is Strategy.SUPPRESS and width > 1 and not hierarchies:
        margins.append(("q0",))
    if strategy is Strategy.SUPPRESS and width > 2:
        margins.append(("q1",))
    res = anonymize(
        cells,
        dims,
        k,
        quasi_identifiers=dims[1:],
        hierarchies=hierarchies,
        strategy=strategy,
        cell_k=cell_k,
        margins=margins,
    )
    _check_common(res, cells, k, cell_k, hierarchies)
    if strategy is Strategy.GENERALIZE:
        # Nothing is left out except whole partitions below k.
        for key in res.suppressed:
            assert (key[0],) in res.withheld_partitions
        for (day,) in res.withheld_partitions:
            members = [key for key in cells if key[0] == day and cells[key]]
            need = max([k, *(cell_k.get(m, k) for m in members)])
            assert sum(cells[m] for m in members) < need
    else:
        _check_margins(res, cells, k, margins)


@settings(max_examples=100, deadline=None)
@given(
    people=st.dictionaries(
        st.sampled_from(list("abcdefgh")),
        st.sets(st.integers(0, 30), min_size=1, max_size=15),
        max_size=8,
    ),
    k=st.integers(2, 15),
)
def test_property_non_additive_counts(people: dict[str, set[int]], k: int) -> None:
    cells: dict[Key, int] = {(ref,): len(v) for ref, v in people.items()}

    def count_of(keys: Sequence[Key]) -> int:
        return len(set().union(*(people[key[0]] for key in keys)))

    res = anonymize(cells, ["referrer"], k, count_of=count_of)
    everyone = set().union(*people.values()) if people else set()
    if len(everyone) < k:
        assert res.cells == ()
        return
    for cell in res.cells:
        assert cell.count == count_of(cell.members) >= k
    assert {m for c in res.cells for m in c.members} == set(cells)
