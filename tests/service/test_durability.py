"""``kill -9`` during sustained ingest loses no acknowledged event and never corrupts the file.

A real ``trackpref serve`` process takes events from several client threads,
each recording the events that got ``202``. The process is killed with
SIGKILL at a random moment, restarted on the same database, killed again,
many times. Afterwards every acknowledged event must be in the database,
the raw rows and the day tallies must agree (they commit together), and
SQLite's ``PRAGMA integrity_check`` must say ``ok``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from trackpref.ledger.storage import open_store
from trackpref.service.tables import ServiceTables

sys.path.insert(0, str(Path(__file__).parents[1]))
from support.servers import free_port

SITE = "durable.example"
TOKEN = "durability-admin-token-1234"
CLIENTS = 6


def start_server(db: Path, durability: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).with_name("trackpref")
    env = {**os.environ, "TRACKPREF_ADMIN_TOKEN": TOKEN}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(exe),
                "serve",
                "--db",
                str(db),
                "--port",
                str(port),
                "--durability",
                durability,
                "--no-jobs",
                "--no-access-log",
                "--log-level",
                "warning",
                "--site",
                SITE,
            ],
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server died at start: {log.read_text()[-2000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server did not start in 30 s")


def ingest(
    base: str, start: int, acked: list[int], stop: threading.Event, rng: random.Random
) -> None:
    n = start
    with httpx.Client(base_url=base, timeout=5) as client:
        while not stop.is_set():
            size = rng.choice((1, 1, 1, 5, 20))
            batch = list(range(n, n + size))
            n += size
            body = [{"site": SITE, "type": "pageview", "url": f"/n/{i}"} for i in batch]
            try:
                r = client.post("/api/collect", json=body if size > 1 else body[0])
            except httpx.HTTPError:
                return  # the server is gone; whatever was not acknowledged may be lost
            if r.status_code == 202:
                acked.extend(batch)
            elif r.status_code != 503:
                raise AssertionError(f"unexpected {r.status_code}: {r.text}")


@pytest.mark.slow
@pytest.mark.parametrize(("durability", "rounds"), [("full", 10), ("normal", 6)])
def test_kill_9_never_loses_an_acknowledged_event(
    tmp_path: Path, durability: str, rounds: int
) -> None:
    db = tmp_path / "durable.db"
    log = tmp_path / "server.log"
    rng = random.Random(4)
    acked: list[int] = []
    next_id = 0
    killed_with_traffic = 0
    for _ in range(rounds):
        proc, base = start_server(db, durability, log)
        stop = threading.Event()
        per_thread: list[list[int]] = [[] for _ in range(CLIENTS)]
        threads = [
            threading.Thread(
                target=ingest,
                args=(base, next_id + k * 10_000_000, per_thread[k], stop, random.Random(k)),
                daemon=True,
            )
            for k in range(CLIENTS)
        ]
        next_id += CLIENTS * 10_000_000
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 1.2))
        before = sum(len(a) for a in per_thread)
        os.killpg(proc.pid, signal.SIGKILL)  # the server's own session: it and nothing else
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
        for a in per_thread:
            acked.extend(a)
        killed_with_traffic += before > 0
    assert killed_with_traffic == rounds, "every kill landed during ingest"
    assert len(acked) > 500, "the clients got enough acknowledgements to mean something"
    print(f"{durability}: {rounds} kills, {len(acked)} acknowledged events")

    store = open_store(db, site=SITE)
    try:
        tables = ServiceTables(store)
        assert tables.integrity_check() == "ok"
        stored = [int(e.fields["path"].rsplit("/", 1)[1]) for e in store.iter_events("pageviews")]
        missing = set(acked) - set(stored)
        assert not missing, (
            f"{len(missing)} acknowledged events were lost, e.g. {sorted(missing)[:5]}"
        )
        assert len(stored) == len(set(stored)), "no event stored twice"
        counted = sum(
            n for _, m, _, n in tables.tallies(SITE, since="0", until="9") if m == "pageviews"
        )
        assert counted == len(stored), "raw rows and tallies commit together"
    finally:
        store.close()
