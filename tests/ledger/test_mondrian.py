"""The vectorized Mondrian: classes of at least k, checked here and by pyCANON on UCI Adult."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.ledger.mondrian import MondrianError, MondrianResult, mondrian

ADULT_COLUMNS = (
    *("age", "workclass", "fnlwgt", "education", "education-num", "marital-status"),
    *("occupation", "relationship", "race", "sex", "capital-gain", "capital-loss"),
    *("hours-per-week", "native-country", "income"),
)
ADULT_QI = ("age", "education", "occupation", "relationship", "sex", "native-country")


def test_numeric_ranges_and_categorical_sets() -> None:
    ages = np.array([21, 22, 23, 24, 35, 36, 37, 38, 50, 51, 52, 53])
    sex = np.array(["F", "M"] * 6)
    res = mondrian({"age": ages, "sex": sex}, k=3)
    assert res.n_partitions >= 2
    assert res.sizes.min() >= 3
    gen = res.generalized()
    for age, label in zip(ages.tolist(), gen["age"].tolist(), strict=True):
        lo, hi = _bounds(label)
        assert lo <= age <= hi
    for s, label in zip(sex.tolist(), gen["sex"].tolist(), strict=True):
        assert label == s or (label.startswith("{") and s in label[1:-1].split(","))


def test_format_of_labels() -> None:
    res = mondrian({"age": np.array([25, 34, 25, 34]), "edu": np.array(["a", "b", "a", "b"])}, k=4)
    assert res.labels() == {"age": ["25-34"], "edu": ["{a,b}"]}
    res = mondrian({"x": np.array([1.5, 1.5, 2.25, 2.25])}, k=2)
    assert res.labels() == {"x": ["1.5", "2.25"]}
    res = mondrian({"x": np.array([-5.0, 3.0, 0.125])}, k=3)
    assert res.labels() == {"x": ["[-5,3]"]}


def test_declared_order_cuts_runs_of_the_order() -> None:
    order = ["Preschool", "HS-grad", "Bachelors", "Masters", "Doctorate"]
    edu = np.array([order[i % 5] for i in range(100)])
    res = mondrian({"edu": edu}, k=20, order={"edu": order})
    assert res.n_partitions == 5
    res = mondrian({"edu": edu}, k=30, order={"edu": order})
    for label in res.labels()["edu"]:
        values = label.strip("{}").split(",")
        idx = sorted(order.index(v) for v in values)
        assert idx == list(range(idx[0], idx[-1] + 1))  # consecutive in the declared order


def test_bad_input_is_named() -> None:
    with pytest.raises(MondrianError, match="k: must be a positive integer"):
        mondrian({"a": [1, 2]}, k=0)
    with pytest.raises(MondrianError, match="b: 1 rows, but a has 2"):
        mondrian({"a": [1, 2], "b": [1]}, k=1)
    with pytest.raises(MondrianError, match="a: row 1 is not a finite number"):
        mondrian({"a": np.array([1.0, np.nan])}, k=1)
    with pytest.raises(MondrianError, match="3 rows cannot form a class of k = 5"):
        mondrian({"a": [1, 2, 3]}, k=5)
    with pytest.raises(MondrianError, match="categorical"):
        mondrian({"a": [1, 2]}, k=1, categorical=["b"])
    with pytest.raises(MondrianError, match="'c' is not in the declared order"):
        mondrian({"a": ["a", "c"]}, k=1, order={"a": ["a", "b"]})
    with pytest.raises(MondrianError, match="at least one"):
        mondrian({}, k=1)
    assert mondrian({"a": []}, k=3).n_partitions == 0


def _bounds(label: str) -> tuple[float, float]:
    if label.startswith("["):
        lo, hi = label[1:-1].split(",")
        return float(lo), float(hi)
    try:
        return float(label), float(label)
    except ValueError:
        lo, hi = label.split("-")
        return float(lo), float(hi)


def _check(res: MondrianResult, columns: dict[str, np.ndarray], k: int) -> None:
    n = len(next(iter(columns.values())))
    sizes = res.sizes
    assert sizes.sum() == n
    assert sizes.min() >= k
    gen = res.generalized()
    classes = Counter(zip(*(gen[name].tolist() for name in columns), strict=True))
    # Equivalence classes of the published table are exactly the partitions.
    assert len(classes) == res.n_partitions
    assert min(classes.values()) >= k
    for name, values in columns.items():
        for v, label in zip(values.tolist(), gen[name].tolist(), strict=True):
            if values.dtype.kind in "if":
                lo, hi = _bounds(label)
                assert lo <= v <= hi
            else:
                assert v == label or v in label[1:-1].split(",")


def _no_allowable_cut_left(res: MondrianResult, columns: dict[str, np.ndarray], k: int) -> None:
    """The greedy recursion stopped only where no median cut keeps k on both sides."""
    for p in range(res.n_partitions):
        rows = res.partition == p
        for values in columns.values():
            part = np.sort(np.unique(values[rows], return_inverse=True)[1])
            if part[0] == part[-1]:
                continue
            median = part[(len(part) - 1) // 2]
            for left in ((part <= median).sum(), (part < median).sum()):
                assert not (left >= k and len(part) - left >= k)


tables = st.integers(10, 300).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "age": st.lists(st.integers(17, 90), min_size=n, max_size=n),
            "score": st.lists(
                st.floats(-5, 5, allow_nan=False, allow_infinity=False), min_size=n, max_size=n
            ),
            "job": st.lists(st.sampled_from(list("abcdefg")), min_size=n, max_size=n),
            "sex": st.lists(st.sampled_from(["F", "M"]), min_size=n, max_size=n),
        }
    )
)


@settings(max_examples=80, deadline=None)
@given(
    table=tables,
    k=st.integers(2, 12),
    subset=st.sets(st.sampled_from(["age", "score", "job", "sex"]), min_size=1),
)
def test_property_every_class_has_k_rows(
    table: dict[str, list[object]], k: int, subset: set[str]
) -> None:
    columns = {name: np.asarray(table[name]) for name in sorted(subset)}
    n = len(table["age"])
    if n < k:
        with pytest.raises(MondrianError):
            mondrian(columns, k)
        return
    res = mondrian(columns, k)
    _check(res, columns, k)
    _no_allowable_cut_left(res, columns, k)


def load_adult(path: Path) -> dict[str, np.ndarray]:
    rows = []
    with path.open(newline="") as f:
        for row in csv.reader(f, skipinitialspace=True):
            if len(row) == len(ADULT_COLUMNS) and "?" not in row:
                rows.append(row)
    columns = {q: np.array([r[ADULT_COLUMNS.index(q)] for r in rows]) for q in ADULT_QI}
    columns["age"] = columns["age"].astype(np.int64)
    return columns


@pytest.mark.slow
def test_adult_k10_verified_by_pycanon(tmp_path: Path) -> None:
    from pycanon_env import adult_data_path, k_anonymity

    columns = load_adult(adult_data_path())
    assert len(columns["age"]) == 30162
    res = mondrian(columns, k=10)
    _check(res, columns, 10)
    assert res.n_partitions > 1000  # it really partitions, not one big class
    gen = res.generalized()
    out = tmp_path / "adult_k10.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ADULT_QI)
        w.writerows(zip(*(gen[q].tolist() for q in ADULT_QI), strict=True))
    k, rows = k_anonymity(out, ADULT_QI)
    assert rows == 30162
    assert k >= 10
    # The raw data is far from 10-anonymous: the check can fail.
    raw = tmp_path / "adult_raw.csv"
    with raw.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ADULT_QI)
        w.writerows(zip(*(columns[q].tolist() for q in ADULT_QI), strict=True))
    assert k_anonymity(raw, ADULT_QI)[0] < 10
