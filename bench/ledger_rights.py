"""Export and delete one subject among many events.

    python bench/ledger_rights.py --events 1000000        # SQLite
    python bench/ledger_rights.py --events 300000 --pg postgresql://…

A store is filled with ``--events`` raw events (pre-built rows, bulk-inserted
in batches of 10,000: the loading is not what is measured), of which a few
hundred subjects own 20 events each, the rest anonymous. Then, for several
subjects, :meth:`DataRights.export` and :meth:`DataRights.delete` are timed
(median and worst), next to the baseline of the same run: one indexed
``SELECT`` of that subject's rows through the store.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from trackpref.ledger.crypto import FieldCipher
from trackpref.ledger.inventory import parse_inventory
from trackpref.ledger.rights import DataRights
from trackpref.ledger.storage import EventRow, Store, encode_fields, open_store

SITE = "bench.example"
PER_SUBJECT = 20


def fill(store: Store, n: int, subjects: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    did = store.put_decision(
        dataset="pageviews",
        preference="allow",
        purposes=["first-party-analytics"],
        recipients=["cdn"],
        explanation={"bench": True},
    )
    owned = {
        i * (n // (subjects * PER_SUBJECT)): f"user-{i % subjects}"
        for i in range(subjects * PER_SUBJECT)
    }
    t0 = 1_700_000_000.0
    batch: list[EventRow] = []
    for i in range(n):
        fields = encode_fields(
            {"path": f"/p/{rng.randrange(10**6)}", "country": "DE", "load_ms": rng.randrange(3000)}
        )
        batch.append(
            EventRow(SITE, "pageviews", t0 + i * 0.01, owned.get(i), f"{i:032x}", did, fields)
        )
        if len(batch) == 10_000:
            store.insert_events(batch)
            batch = []
    if batch:
        store.insert_events(batch)


def bench(url: str, n: int, subjects: int, samples: int) -> dict[str, Any]:
    inv = parse_inventory(
        resources.files("trackpref")
        .joinpath("examples", "inventory.toml")
        .read_text()
        .replace('name = "news.example"', f'name = "{SITE}"', 1)
    )
    store = open_store(url, site=SITE)
    try:
        t = time.perf_counter()
        fill(store, n, subjects)
        load_s = time.perf_counter() - t
        rights = DataRights(inv, store, sealer=FieldCipher(store, site=SITE))
        baseline, export, delete = [], [], []
        for k in range(samples):
            sid = f"user-{k}"
            t = time.perf_counter()
            rows = store.events_for_subject(sid)
            baseline.append(time.perf_counter() - t)
            t = time.perf_counter()
            doc = rights.export(sid)
            export.append(time.perf_counter() - t)
            assert len(doc["datasets"]["pageviews"]["records"]) == len(rows) > 0
            t = time.perf_counter()
            report = rights.delete(sid)
            delete.append(time.perf_counter() - t)
            assert report.events == len(rows)
        total = store.count_events()
    finally:
        store.close()

    def ms(xs: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(xs) * 1000, 2),
            "max_ms": round(max(xs) * 1000, 2),
        }

    return {
        "backend": "postgresql" if url.startswith("postgres") else "sqlite",
        "events": n,
        "events_after": total,
        "events_per_subject": PER_SUBJECT,
        "load_seconds": round(load_s, 1),
        "select_subject_rows": ms(baseline),
        "export": ms(export),
        "delete": ms(delete),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--pg", help="a PostgreSQL DSN (an empty database)")
    ap.add_argument("--db", help="a SQLite path to keep (default: a temporary file)")
    ap.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    ap.add_argument("--quick", action="store_true", help="50,000 events, 5 samples")
    args = ap.parse_args(argv)
    if args.quick:
        args.events, args.samples = 50_000, 5
    report: dict[str, Any] = {}
    if args.no_sqlite:
        report["sqlite"] = "skipped (--no-sqlite)"
    elif args.db:
        report["sqlite"] = bench(args.db, args.events, args.subjects, args.samples)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report["sqlite"] = bench(
                str(Path(tmp) / "rights.db"), args.events, args.subjects, args.samples
            )
    if args.pg:
        report["postgresql"] = bench(args.pg, args.events, args.subjects, args.samples)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
