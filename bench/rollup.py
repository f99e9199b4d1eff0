"""Rolling 10 million raw events into k-anonymous daily aggregates.

Synthetic events, as columns (what the storage reads before dropping the raw
rows): 20 sites x 30 days, referrers drawn from a Zipf-like law over 500
domains, 3 devices, 250 regions in 50 countries (ISO 3166-2 style, so small
regions generalize to their country), preference 60 % unset / 30 % allow /
10 % do-not-track, about five page views per visitor-day, and no visitor hash
under do-not-track (the gate drops it).

Compared in one run, on one core (the process pins itself to one CPU):

* ``trackpref.ledger.rollup.rollup``: totals and four breakdowns per site-day,
  every published cell k-anonymous (k = 10; ``--eff`` applies the EFF policy's
  5000 to cells with do-not-track users);
* baseline "group-by": the same counts (page views, unique visitors) with NumPy
  and no k-anonymity, to show what k-anonymity costs;
* baseline "pure Python": the same counts with dicts and sets on a sample,
  reported as events per second.

The issue's target: 10 million events in at most 30 s. Usage:
``python bench/rollup.py [--events N] [--eff] [--sites 20] [--days 30]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Sequence

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from trackpref.ledger.rollup import TOTAL, Categorical, EventBatch, RollupSpec, rollup

DIMS = ("referrer_domain", "device", "region", "preference")


def generate(n: int, *, sites: int = 20, days: int = 30, seed: int = 1) -> EventBatch:
    rng = np.random.default_rng(seed)
    site = rng.integers(0, sites, n)
    day = rng.integers(0, days, n)
    weights = 1 / np.arange(1, 501) ** 1.1
    referrer = rng.choice(500, n, p=weights / weights.sum())
    device = rng.choice(3, n, p=[0.6, 0.35, 0.05])
    region = rng.integers(0, 250, n)
    preference = rng.choice(3, n, p=[0.6, 0.1, 0.3])  # unset, do-not-track, allow
    pool = max(n // (sites * days * 5), 1)
    visitor = (site * days + day) * pool + rng.integers(0, pool, n)
    visitor[preference == 1] = -1
    return EventBatch(
        Categorical(site, tuple(f"site{i}.example" for i in range(sites))),
        Categorical(day, tuple(f"2025-01-{i + 1:02d}" for i in range(days))),
        Categorical(preference, ("unset", "do-not-track", "allow")),
        visitor,
        {
            "referrer_domain": Categorical(referrer, tuple(f"ref{i}.example" for i in range(500))),
            "device": Categorical(device, ("desktop", "mobile", "tablet")),
            "region": Categorical(region, tuple(f"C{i % 50}-R{i // 50}" for i in range(250))),
        },
    )


def _unique(values: np.ndarray) -> np.ndarray:
    out = np.sort(values)
    keep = np.empty(len(out), dtype=bool)
    keep[:1] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def numpy_groupby(batch: EventBatch) -> int:
    """Page views and unique visitors per site-day and value; no k-anonymity.

    Sort-based, like the rollup itself (NumPy 2.4's ``np.unique`` takes a
    hash-table path that is several times slower on 10 million integers).
    """
    n_days = len(batch.day.categories)
    group = batch.site.codes * n_days + batch.day.codes
    hashed = batch.visitor >= 0
    v = int(batch.visitor.max()) + 1
    cells = 0
    for d in DIMS:
        col = batch.preference if d == "preference" else batch.dimensions[d]
        cell = group * len(col.categories) + col.codes
        pageviews = np.bincount(cell)
        pairs = _unique(cell[hashed] * v + batch.visitor[hashed])
        visitors = np.bincount(pairs // v, minlength=len(pageviews))
        cells += int(np.count_nonzero(pageviews)) + int(visitors.sum() > 0)
    return cells


def pure_python(batch: EventBatch, n: int) -> int:
    """The same counts with dicts and sets over the first ``n`` events."""
    site = batch.site.codes[:n].tolist()
    day = batch.day.codes[:n].tolist()
    visitor = batch.visitor[:n].tolist()
    cols = [
        (batch.preference if d == "preference" else batch.dimensions[d]).codes[:n].tolist()
        for d in DIMS
    ]
    pageviews: dict[tuple[int, int, int, int], int] = defaultdict(int)
    uniques: dict[tuple[int, int, int, int], set[int]] = defaultdict(set)
    for i in range(n):
        for j, col in enumerate(cols):
            key = (site[i], day[i], j, col[i])
            pageviews[key] += 1
            if visitor[i] >= 0:
                uniques[key].add(visitor[i])
    return len(pageviews)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--python-sample", type=int, default=1_000_000)
    ap.add_argument("--eff", action="store_true", help="apply the EFF policy (k = 5000 with DNT)")
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="300,000 events (a smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.events, args.python_sample = 300_000, 100_000
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    n = args.events
    t = time.perf_counter()
    batch = generate(n, sites=args.sites, days=args.days)
    print(
        f"generated {n:,} events ({args.sites} sites x {args.days} days) in "
        f"{time.perf_counter() - t:.1f} s; numpy {np.__version__}"
    )

    spec = RollupSpec(eff_policy=args.eff)
    t = time.perf_counter()
    result = rollup(batch, spec)
    t_rollup = time.perf_counter() - t
    assert all(r.units >= r.k for r in result.rows)
    totals = {(r.site, r.day): r.pageviews for r in result.table(TOTAL)}
    for d in DIMS:
        sums: dict[tuple[str, str], int] = defaultdict(int)
        for r in result.table(d):
            sums[(r.site, r.day)] += r.pageviews
        assert sums == totals, d
    generalized = sum(r.generalized for r in result.rows)

    t = time.perf_counter()
    numpy_groupby(batch)
    t_numpy = time.perf_counter() - t

    sample = min(args.python_sample, n)
    t = time.perf_counter()
    pure_python(batch, sample)
    t_python = time.perf_counter() - t
    rate_python = sample / t_python

    print(
        f"k-anonymous rollup : {t_rollup:6.2f} s  {n / t_rollup:>12,.0f} events/s  "
        f"({len(result.rows):,} cells published, {generalized:,} generalized, "
        f"{len(result.withheld)} site-days withheld; k = {spec.k_for(includes_dnt=False)}, "
        f"with DNT {spec.k_for(includes_dnt=True)})"
    )
    print(
        f"numpy group-by     : {t_numpy:6.2f} s  {n / t_numpy:>12,.0f} events/s  "
        f"(no k-anonymity; rollup / group-by = {t_rollup / t_numpy:.2f}x)"
    )
    print(
        f"pure Python (dicts): {n / rate_python:6.2f} s* {rate_python:>12,.0f} events/s  "
        f"(*extrapolated from {sample:,}; speed-up of rollup {n / t_rollup / rate_python:.1f}x)"
    )
    print(f"target: <= 30 s for 10,000,000 events -> {'met' if t_rollup <= 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
