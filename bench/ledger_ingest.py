"""Gated ingest throughput, against plain inserts into the same table in the same run.

    taskset -c 1 python bench/ledger_ingest.py                      # SQLite
    taskset -c 1 python bench/ledger_ingest.py --pg postgresql://…  # PostgreSQL too

What is measured: ``Ledger.record_many`` on batches of 1,000 page-view
events with a realistic mix of preferences (do-not-track via DNT or GPC,
allow, unset; a visitor hash on most, a subject on a few), so every event is
validated against the inventory, stripped of what its preference refuses,
written to JSON and stored, one transaction per batch.

Baselines, each in the same run, on the same rows (the ones the gate
produced, built beforehand), into a fresh database with the same table and
the same indexes (the store's own migrations create both):

* SQLite ``plain``: one ``executemany`` of a one-row ``INSERT`` per batch, in
  a transaction, on a connection with the store's settings (WAL,
  ``synchronous=NORMAL``): what the issue calls plain batched executemany.
* SQLite ``store``: ``Store.insert_events`` alone, the ledger's storage
  without the gate (it writes 50 rows per statement).
* PostgreSQL ``copy``: ``Store.insert_events``, which is one ``COPY`` per batch.

The phases take turns batch by batch (rotating who goes first), so that
whatever else the shared machine runs slows them all alike; the figures are
medians over several runs. CPU time (user + system of this process) is the
headline because the machine is shared; wall time is reported next to it.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from trackpref.ledger import Event, Ledger
from trackpref.ledger.inventory import Inventory, parse_inventory
from trackpref.ledger.storage import Store, open_store
from trackpref.signals import resolve_headers

BATCH = 1000
_INSERT = (
    "INSERT INTO events (site, dataset, ts, subject_ref, visitor_hash, decision_id, fields) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def make_batches(n_batches: int, seed: int = 7) -> list[list[Event]]:
    rng = random.Random(seed)
    prefs = [
        resolve_headers("1", None),
        resolve_headers(None, "1"),
        resolve_headers("1", "1"),
        resolve_headers("0", None),
        resolve_headers(None, None),
        resolve_headers(None, None),
    ]
    paths = [f"/news/{i}/{rng.randrange(10**6)}" for i in range(500)]
    refs = ["search.example", "social.example", "news.example", "mail.example"]
    countries = ["DE", "FR", "US", "GB", "NL", "BR", "JP"]
    out: list[list[Event]] = []
    for b in range(n_batches):
        batch = []
        for i in range(BATCH):
            fields: dict[str, object] = {
                "path": rng.choice(paths),
                "referrer_host": rng.choice(refs),
                "country": rng.choice(countries),
                "visitor_id": f"c{rng.randrange(10**9):09d}",
                "load_ms": rng.randrange(20, 3000),
            }
            subject = f"user-{rng.randrange(10**5)}" if rng.random() < 0.05 else None
            batch.append(
                Event(
                    "pageviews",
                    fields,
                    prefs[(b * BATCH + i) % len(prefs)],
                    subject,
                    f"{rng.getrandbits(128):032x}",
                )
            )
        out.append(batch)
    return out


class Capture:
    """Stands in for the store to collect the rows the gate produces."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.rows: list[list[Any]] = []

    def insert_events(self, rows: Any) -> int:
        self.rows.append(list(rows))
        return len(rows)

    def insert_columns(self, *columns: Any) -> int:
        return self.insert_events(list(zip([self.site] * len(columns[0]), *columns, strict=True)))

    def put_decision(self, **_: Any) -> int:
        return 1


def interleaved(
    phases: list[tuple[str, Callable[[int], object]]], batches: int, events: int, turn: int
) -> dict[str, Any]:
    """Time each phase batch by batch, taking turns, so that whatever else the
    shared machine runs slows them all alike; rates in events (rows) per second."""
    spent = {name: [0.0, 0.0] for name, _ in phases}
    for i in range(batches):
        k = (turn + i) % len(phases)
        for name, fn in phases[k:] + phases[:k]:
            w, c = time.perf_counter(), time.process_time()
            fn(i)
            acc = spent[name]
            acc[0] += time.perf_counter() - w
            acc[1] += time.process_time() - c
    out: dict[str, Any] = {"events": events}
    for name, (wall, cpu) in spent.items():
        out[f"{name}_per_s_cpu"] = round(events / cpu)
        out[f"{name}_per_s_wall"] = round(events / wall)
    return out


def gated_rows(inv: Inventory, batches: list[list[Event]], site: str, did: int) -> list[list[Any]]:
    """The rows the gate produces for these batches, collected untimed."""
    cap = Capture(site)
    ledger = Ledger(inv, cap)  # type: ignore[arg-type]
    for b in batches:
        ledger.record_many(b)
    return [[(r[0], r[1], r[2], r[3], r[4], did, r[6]) for r in batch] for batch in cap.rows]


def _decision(store: Store) -> int:
    return store.put_decision(
        dataset="pageviews", preference="allow", purposes=[], recipients=[], explanation={}
    )


def sqlite_run(tmp: Path, inv: Inventory, batches: list[list[Event]], turn: int) -> dict[str, Any]:
    """One SQLite run: gated, store alone and plain executemany, each into a fresh database."""
    n = sum(len(b) for b in batches)
    site = "bench.example"
    stores = {
        name: open_store(tmp / f"{name}-{turn}.db", site=site)
        for name in ("gated", "store", "plain")
    }
    plain_path = str(tmp / f"plain-{turn}.db")
    stores["plain"].close()  # only its schema is used: the same table, the same indexes
    conn = sqlite3.connect(plain_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        did = _decision(stores["store"])
        rows = gated_rows(inv, batches, site, did)
        conn.execute(
            "INSERT INTO decisions (site, digest, dataset, preference, purposes, recipients, "
            "explanation) VALUES (?, 'x', 'pageviews', 'allow', '[]', '[]', '{}')",
            (site,),
        )
        ledger = Ledger(inv, stores["gated"])

        def plain(batch: list[Any]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, batch)
            conn.execute("COMMIT")

        phases: list[tuple[str, Callable[[int], object]]] = [
            ("gated", lambda i: ledger.record_many(batches[i])),
            ("store", lambda i: stores["store"].insert_events(rows[i])),
            ("plain", lambda i: plain(rows[i])),
        ]
        out = interleaved(phases, len(batches), n, turn)
        out["stored"] = stores["gated"].count_events()
        out["plain_rows"] = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        conn.close()
        stores["gated"].close()
        stores["store"].close()
    for base in ("plain", "store"):
        for clock in ("cpu", "wall"):
            rate = out[f"gated_per_s_{clock}"] / out[f"{base}_per_s_{clock}"]
            out[f"ratio_gated_to_{base}_{clock}"] = round(rate, 3)
    return out


def pg_run(dsn: str, inv: Inventory, batches: list[list[Event]], turn: int) -> dict[str, Any]:
    """One PostgreSQL run: gated and plain COPY, into the same table under two sites."""
    n = sum(len(b) for b in batches)
    gated_store = open_store(dsn, site=f"bench-gated-{turn}.example")
    plain_store = open_store(dsn, site=f"bench-plain-{turn}.example")
    try:
        rows = gated_rows(inv, batches, plain_store.site, _decision(plain_store))
        ledger = Ledger(inv, gated_store)

        phases: list[tuple[str, Callable[[int], object]]] = [
            ("gated", lambda i: ledger.record_many(batches[i])),
            ("copy", lambda i: plain_store.insert_events(rows[i])),
        ]
        out = interleaved(phases, len(batches), n, turn)
        out["stored"] = gated_store.count_events()
    finally:
        gated_store.close()
        plain_store.close()
    for clock in ("cpu", "wall"):
        rate = out[f"gated_per_s_{clock}"] / out[f"copy_per_s_{clock}"]
        out[f"ratio_gated_to_copy_{clock}"] = round(rate, 3)
    return out


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5, help="SQLite runs; medians are reported")
    ap.add_argument("--pg", help="a PostgreSQL DSN to benchmark too (an empty database)")
    ap.add_argument("--pg-batches", type=int, default=100, help="batches for PostgreSQL")
    ap.add_argument("--pg-repeat", type=int, default=3, help="PostgreSQL runs")
    ap.add_argument("--quick", action="store_true", help="30 batches, 2 runs (a smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.batches, args.repeat, args.pg_batches, args.pg_repeat = 30, 2, 10, 1
    inventory_text = resources.files("trackpref").joinpath("examples", "inventory.toml").read_text()
    inv = parse_inventory(inventory_text)
    batches = make_batches(args.batches)
    runs = []
    for turn in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(sqlite_run(Path(tmp), inv, batches, turn))
    report: dict[str, Any] = {"sqlite": medians(runs), "sqlite_runs": runs}
    if args.pg:
        pg_runs = [
            pg_run(args.pg, inv, batches[: args.pg_batches], t) for t in range(args.pg_repeat)
        ]
        report["postgresql"] = medians(pg_runs)
        report["postgresql_runs"] = pg_runs
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
