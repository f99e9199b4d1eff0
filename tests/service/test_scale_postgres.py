"""Scale-out: two ``trackpref serve`` processes over one real PostgreSQL.

Both take events concurrently; every acknowledged event must be stored once,
raw rows and tallies must agree, and the scheduled jobs must have run exactly
once per interval across both instances (advisory locks plus the slot table).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from trackpref.service import ServiceConfig, create_app
from trackpref.service.jobs import Scheduler, _lock_key

sys.path.insert(0, str(Path(__file__).parents[1]))
from support.servers import free_port

SITE = "scale.example"
TOKEN = "scale-admin-token-123456"
pytestmark = pytest.mark.postgres


def start(dsn: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).with_name("trackpref")
    env = {**os.environ, "TRACKPREF_ADMIN_TOKEN": TOKEN, "TRACKPREF_DB": dsn}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(exe),
                "serve",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--site",
                SITE,
                "--outbox",
                str(log.parent / "outbox"),
                "--job-interval",
                "retention=1",
                "--job-interval",
                "salts=1",
                "--job-interval",
                "rollup=2",
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
            raise AssertionError(log.read_text()[-3000:])
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("a server did not start")


def ingest(base: str, first: int, acked: list[int], stop: threading.Event) -> None:
    n = first
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            batch = list(range(n, n + 10))
            n += 10
            body = [{"site": SITE, "type": "pageview", "url": f"/n/{i}"} for i in batch]
            r = client.post("/api/collect", json=body)
            if r.status_code == 202:
                acked.extend(batch)
            else:
                assert r.status_code == 503, r.text


@pytest.mark.slow
def test_two_instances_ingest_into_one_postgres(postgres_dsn: str, tmp_path: Path) -> None:
    procs = [start(postgres_dsn, tmp_path / f"server{i}.log") for i in range(2)]
    stop = threading.Event()
    acked: list[list[int]] = [[] for _ in range(4)]
    threads = [
        threading.Thread(
            target=ingest, args=(procs[k % 2][1], k * 10_000_000, acked[k], stop), daemon=True
        )
        for k in range(4)
    ]
    try:
        for t in threads:
            t.start()
        time.sleep(6)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        for proc, _ in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    all_acked = [i for a in acked for i in a]
    assert all(a for a in acked), "both instances took events"

    with psycopg.connect(postgres_dsn) as conn:
        paths = [
            r[0]
            for r in conn.execute(
                "SELECT fields->>'path' FROM events WHERE site = %s AND dataset = 'pageviews'",
                (SITE,),
            )
        ]
        stored = [int(p.rsplit("/", 1)[1]) for p in paths]
        assert set(all_acked) <= set(stored)
        assert len(stored) == len(set(stored))
        row = conn.execute(
            "SELECT SUM(n) FROM (SELECT site, metric, n FROM service_tallies UNION ALL "
            "SELECT site, metric, n FROM service_tally_log) AS t "
            "WHERE site = %s AND metric = 'pageviews'",
            (SITE,),
        ).fetchone()
        assert row is not None
        assert row[0] == len(stored)
        runs = conn.execute(
            "SELECT job, slot, instance FROM service_job_runs WHERE job IN "
            "('retention', 'salts', 'rollup') ORDER BY job, slot"
        ).fetchall()
        retention = [r for r in runs if r[0] == "retention"]
        assert len(retention) >= 4, "the retention job ran every second or so"
        executions = conn.execute(
            "SELECT COUNT(*) FROM audit_log WHERE site = %s AND action = 'retention.run'", (SITE,)
        ).fetchone()
        assert executions is not None
        assert executions[0] == len(retention), "each slot ran once: no instance repeated it"
        assert len({r[2] for r in runs}) <= 2


@pytest.mark.slow
def test_the_advisory_lock_keeps_a_job_from_running_twice_at_once(
    postgres_dsn: str, tmp_path: Path
) -> None:
    cfg = ServiceConfig(
        db=postgres_dsn, admin_token=TOKEN, run_jobs=False, outbox=str(tmp_path / "outbox")
    )
    app = create_app(config=cfg)
    service = app.state.service
    scheduler = Scheduler(service, service.config.jobs)
    try:
        with psycopg.connect(postgres_dsn, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (_lock_key("retention"),))
            assert scheduler.try_run("retention", 41) is None, "another instance holds the job"
            other.execute("SELECT pg_advisory_unlock(%s)", (_lock_key("retention"),))
        assert scheduler.try_run("retention", 41) is not None
        assert scheduler.try_run("retention", 41) is None, "and a slot runs once"
    finally:
        scheduler.close()
        service.close()
