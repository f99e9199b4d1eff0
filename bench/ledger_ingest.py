"""Gated ingest throughput, against plain inserts into the same table in the same run.

    python bench/ledger_ingest.py                      # SQLite, 300 batches of 1,000
    python bench/ledger_ingest.py --pg postgresql://…  # PostgreSQL too

What is measured: ``Ledger.record_many`` on batches of 1,000 page-view
events with a realistic mix of preferences (do-not-track via DNT or GPC,
allow, unset; a visitor hash on most, a subject on a few), so every event is
validated against the inventory, stripped of what its preference refuses,
written to JSON and stored. The baseline is the same rows, already built,
inserted with one ``executemany`` (SQLite, a fresh store with the same
table) or ``COPY`` (PostgreSQL, the same table under another site) per batch:
the cost of the storage alone. Both
run in this process on one core; CPU time is reported next to wall time
because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from trackpref.ledger import Event, Ledger
from trackpref.ledger.inventory import parse_inventory
from trackpref.ledger.storage import Store, open_store
from trackpref.signals import resolve_headers

BATCH = 1000


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

    def put_decision(self, **_: Any) -> int:
        return 1


def timed(fn: Any) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def run(urls: tuple[str, str], batches: list[list[Event]], inventory_text: str) -> dict[str, Any]:
    """Gated ingest into the first store, the same rows plain into the second."""
    inv = parse_inventory(inventory_text)
    n = sum(len(b) for b in batches)
    # The rows the gate produces, collected untimed, for the baseline.
    cap = Capture("bench-plain.example")
    capture_ledger = Ledger(inv, cap)  # type: ignore[arg-type]
    for b in batches:
        capture_ledger.record_many(b)

    gated_store: Store = open_store(urls[0], site="bench-gated.example")
    plain_store: Store = open_store(urls[1], site="bench-plain.example")
    try:
        ledger = Ledger(inv, gated_store)
        did = plain_store.put_decision(
            dataset="pageviews", preference="allow", purposes=[], recipients=[], explanation={}
        )
        rows = [[(r[0], r[1], r[2], r[3], r[4], did, r[6]) for r in batch] for batch in cap.rows]

        def gated() -> None:
            for b in batches:
                ledger.record_many(b)

        def plain() -> None:
            for batch in rows:
                plain_store.insert_events(batch)  # type: ignore[arg-type]

        p_wall, p_cpu = timed(plain)
        g_wall, g_cpu = timed(gated)
        stored = gated_store.count_events()
    finally:
        gated_store.close()
        plain_store.close()
    return {
        "events": n,
        "stored": stored,
        "gated_events_per_s_wall": round(n / g_wall),
        "gated_events_per_s_cpu": round(n / g_cpu) if g_cpu else None,
        "plain_rows_per_s_wall": round(n / p_wall),
        "plain_rows_per_s_cpu": round(n / p_cpu) if p_cpu else None,
        "ratio_gated_to_plain_wall": round(p_wall / g_wall, 3),
        "ratio_gated_to_plain_cpu": round(p_cpu / g_cpu, 3) if g_cpu else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--pg", help="a PostgreSQL DSN to benchmark too (an empty database)")
    ap.add_argument("--repeat", type=int, default=3, help="SQLite runs; the best is kept")
    ap.add_argument("--pg-batches", type=int, default=100, help="batches for PostgreSQL")
    args = ap.parse_args(argv)
    inventory_text = resources.files("trackpref").joinpath("examples", "inventory.toml").read_text()
    batches = make_batches(args.batches)
    results = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            urls = (str(Path(tmp) / "gated.db"), str(Path(tmp) / "plain.db"))
            results.append(run(urls, batches, inventory_text))
    best = max(results, key=lambda r: r["gated_events_per_s_cpu"] or 0)
    report: dict[str, Any] = {"sqlite": best, "sqlite_runs": results}
    if args.pg:
        # One database, two sites: the same table, kept apart by site.
        pg_runs = [run((args.pg, args.pg), batches[: args.pg_batches], inventory_text)]
        report["postgresql"] = pg_runs[0]
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
