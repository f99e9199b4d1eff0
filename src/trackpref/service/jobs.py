"""Scheduled jobs that run exactly once per interval, however many instances run.

Three jobs keep the data honest over time:

* ``retention``: the ledger's :class:`RetentionScheduler` for every site
  (nothing outlives its declared retention; each purge is logged; records of
  finished business go after ``[site] records_retention``), day tallies older
  than the longest retention are dropped, and so are a browser's exception
  history past the records retention and job runs past 30 days;
* ``salts``: destroys the visitor-hash salts of closed days
  (:meth:`VisitorHasher.rotate`), after which nobody can link those hashes;
* ``rollup``: the ledger's k-anonymous :func:`rollup` of each closed day's raw
  page views into ``daily_rollups``, before retention removes the raw rows.

Every instance ticks; time is cut into slots of each job's interval. For a
slot, an instance first takes a PostgreSQL advisory lock for the job
(``pg_try_advisory_lock``, on a connection of its own, so a crashed instance
releases it with its session), then claims the slot by inserting
``(job, slot)`` into ``service_job_runs``; only the instance whose insert
succeeded runs the job. The lock keeps two runs of one job from overlapping
(a long rollup and the next slot); the primary key makes "once per slot" a
fact of the database, which also covers SQLite, where one file means one
host and the lock is a local one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..ledger import Event, Ledger
from ..ledger.retention import RetentionScheduler
from ..ledger.retention import cutoff as retention_cutoff
from ..ledger.rights import UNVERIFIED_TTL
from ..signals.preference import Preference

if TYPE_CHECKING:
    from .runtime import Service

__all__ = ["JOBS", "Scheduler", "run_retention", "run_rollup", "run_salts", "run_webhooks"]

log = logging.getLogger("trackpref.service.jobs")

_LOCK_BASE = 0x7472_6B6A_0000  # "trkj" + a per-job number
#: Days of tallies kept (13 months and a bit: the rollups' retention).
TALLY_DAYS = 400
#: Days a finished run of a scheduled job is remembered (bookkeeping: the
#: dashboard shows each job's newest run, and a slot is claimed once). The
#: rollup's per-day markers in the same table are never purged.
JOB_RUN_DAYS = 30
#: A day is rolled up once it ended this long ago (the salts' grace, and late beacons).
ROLLUP_AFTER = 2 * 3600.0
_ROLLUP_DIMENSIONS = ("referrer_domain", "device", "region", "preference")
#: Rows read per query while rolling up (an hour of a busy site fits).
_HOUR_PAGE = 1_000_000


def _lock_key(job: str) -> int:
    return _LOCK_BASE + zlib.crc32(job.encode())


def run_retention(service: Service, now: float) -> dict[str, Any]:
    # Purge what reaches its limit before the next run could (a retention is a
    # maximum: deleting a little early is allowed, late is not).
    lead = service.config.jobs["retention"] * 1.5 + 60.0
    purged = expired = 0
    records: dict[str, int] = {}
    for site in service.collector.known_sites():
        store = service.collector.store_for(site)
        report = RetentionScheduler(service.inventory, store, lead=lead).run_once(now)
        purged += report.rows
        for table, n in report.records.items():
            records[table] = records.get(table, 0) + n
        # Rights requests nobody verified keep an address for no purpose.
        expired += service.rights(site).expire_requests(now)
    cutoff = dt.datetime.fromtimestamp(now, dt.UTC).date() - dt.timedelta(days=TALLY_DAYS)
    tallies = service.tables.delete_tallies_before(cutoff.isoformat())
    result: dict[str, Any] = {
        "rows": purged,
        "tally_rows": tallies,
        "requests_expired": expired,
        "records": records,
    }
    # A run is remembered for twice the longest interval at least, so that no
    # instance can claim a slot whose run was already forgotten.
    keep_runs = max(JOB_RUN_DAYS * 86400.0, 2 * max(service.config.jobs.values(), default=0.0))
    own = service.tables.purge_records(
        retention_cutoff(service.inventory.site.records_retention, now),
        jobs=tuple(JOBS),
        job_runs_before=now - keep_runs,
        now=now,
    )
    for table, n in own.items():
        if n:
            records[table] = records.get(table, 0) + n
    outbox = service.outbox()
    if outbox is not None:  # development mail: addresses and codes, kept no longer than a request
        result["outbox_pruned"] = outbox.prune(now - UNVERIFIED_TTL.min_seconds)
    return result


def run_salts(service: Service, now: float) -> dict[str, Any]:
    destroyed = 0
    for site in service.collector.known_sites():
        destroyed += service.collector.hasher(site).rotate(now)
    return {"salts_destroyed": destroyed}


def run_webhooks(service: Service, now: float) -> dict[str, Any]:
    """Deliver the queued deletion and opt-out notices whose time has come."""
    delivered = retrying = failed = 0
    for site in service.collector.known_sites():
        hooks = service.rights(site).webhooks
        if hooks is None:
            continue
        report = hooks.deliver_due(now)
        delivered += report.delivered
        retrying += report.retrying
        failed += report.failed
    return {"delivered": delivered, "retrying": retrying, "failed": failed}


def _day_bounds(day: dt.date) -> tuple[float, float]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()
    return start, start + 86400.0


def rollup_day(service: Service, site: str, day: dt.date) -> int:
    """Roll one closed day of one site into ``daily_rollups``; returns the cells written."""
    store = service.collector.store_for(site)
    start, _ = _day_bounds(day)
    iso = day.isoformat()
    rows = [
        (
            site,
            iso,
            e.visitor_hash,
            e.preference,
            e.fields.get("referrer_domain"),
            e.fields.get("device"),
            e.fields.get("region"),
        )
        # Hour by hour, each in one page: every query is a range on the
        # (site, dataset, ts) index, however many rows the day holds.
        for hour in range(24)
        for e in store.iter_events(
            "pageviews",
            since=start + hour * 3600.0,
            before=start + (hour + 1) * 3600.0,
            batch_size=_HOUR_PAGE,
        )
        if e.fields.get("type") == "pageview"
    ]
    if not rows:
        return 0
    # NumPy (the ledger's rollup) is needed only here, not to serve requests.
    from ..ledger.rollup import RollupSpec, rollup

    ds = service.inventory.datasets["pageviews"]
    spec = RollupSpec(
        dimensions=_ROLLUP_DIMENSIONS,
        k=ds.k,
        k_dnt=ds.k_dnt if ds.k_dnt >= ds.k else None,
        eff_policy=service.inventory.site.eff_dnt_policy,
    )
    result = rollup(rows, spec)
    ledger: Ledger = service.collector.ledger(site)
    none = Preference()
    # Noon of the day, within the day's rows' retention; never in the future.
    stamp = max(start, min(start + 43200.0, time.time() - 1))
    batch = ledger.record_many(
        Event(
            "daily_rollups",
            {
                "day": r.day,
                "dimension": r.dimension,
                "value": r.value[:253],
                "pageviews": r.pageviews,
                "visitors": r.visitors,
                "units": r.units,
                "k": r.k,
                "generalized": r.generalized,
            },
            none,
            ts=stamp,
        )
        for r in result.rows
    )
    if batch.refused:
        _, first = batch.refused[0]
        raise RuntimeError(f"rollup of {site} {iso}: the gate refused a cell: {first.message}")
    totals = [r for r in result.rows if r.dimension == "total"]
    if totals:  # the day's k-anonymous unique visitors, next to its other counts
        with store.transaction():
            service.tables.add_tallies({(site, iso, "visitors", "total"): totals[0].visitors})
    return batch.stored


def run_rollup(service: Service, now: float) -> dict[str, Any]:
    """Roll up every closed day that still has raw rows and was not rolled up yet."""
    cells = 0
    days = 0
    last_closed = dt.datetime.fromtimestamp(now - ROLLUP_AFTER, dt.UTC).date() - dt.timedelta(
        days=1
    )
    for site in service.collector.known_sites():
        store = service.collector.store_for(site)
        oldest = store.oldest_event("pageviews")
        if oldest is None:
            continue
        day = dt.datetime.fromtimestamp(oldest, dt.UTC).date()
        while day <= last_closed:
            marker = f"rollup:{site}:{day.isoformat()}"
            if service.tables.claim_job(marker, 0, service.config.instance, now):
                try:
                    cells += rollup_day(service, site, day)
                except BaseException:
                    service.tables.unclaim_job(marker, 0)  # a later run tries again
                    raise
                service.tables.finish_job(marker, 0, time.time(), "ok")
                days += 1
            day += dt.timedelta(days=1)
    return {"days": days, "cells": cells}


JOBS: Mapping[str, Callable[[Service, float], dict[str, Any]]] = {
    "retention": run_retention,
    "salts": run_salts,
    "rollup": run_rollup,
    "webhooks": run_webhooks,
}


class _PgLocks:
    """Session-level advisory locks on a connection of their own."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._conn = psycopg.connect(dsn, autocommit=True)
        self._lock = threading.Lock()

    def try_lock(self, key: int) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])

    def unlock(self, key: int) -> None:
        with self._lock:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def close(self) -> None:
        self._conn.close()


class _LocalLocks:
    def __init__(self) -> None:
        self._held: set[int] = set()
        self._lock = threading.Lock()

    def try_lock(self, key: int) -> bool:
        with self._lock:
            if key in self._held:
                return False
            self._held.add(key)
            return True

    def unlock(self, key: int) -> None:
        with self._lock:
            self._held.discard(key)

    def close(self) -> None:
        """Nothing to release: in-process locks vanish with the process."""


class Scheduler:
    """Ticks in the background and runs each due job if this instance wins its slot."""

    def __init__(self, service: Service, intervals: Mapping[str, float]) -> None:
        self.service = service
        self.intervals = dict(intervals)
        self.tick = max(0.05, min(30.0, min(self.intervals.values()) / 4))
        self._locks: _PgLocks | _LocalLocks | None = None
        self._done: dict[str, int] = {}
        self._stop = asyncio.Event()

    def _open_locks(self) -> _PgLocks | _LocalLocks:
        if self._locks is None:
            dsn = self.service.postgres_dsn
            self._locks = _PgLocks(dsn) if dsn else _LocalLocks()
        return self._locks

    def try_run(self, job: str, slot: int, now: float | None = None) -> str | None:
        """Run ``job`` for ``slot`` if this instance wins it; returns the outcome or None."""
        locks = self._open_locks()
        key = _lock_key(job)
        if not locks.try_lock(key):
            return None
        try:
            at = time.time() if now is None else now
            if not self.service.tables.claim_job(job, slot, self.service.config.instance, at):
                return None
            try:
                result = JOBS[job](self.service, at)
                outcome = "ok " + ", ".join(f"{k}={v}" for k, v in result.items())
            except Exception as exc:  # a failed job is recorded, and retried next slot
                log.exception("job %s failed", job)
                outcome = f"error {type(exc).__name__}: {exc}"
            self.service.tables.finish_job(job, slot, time.time(), outcome)
            self.service.metrics.jobs.labels(job, outcome.split(" ", 1)[0]).inc()
            log.info("job ran", extra={"job": job, "slot": slot, "outcome": outcome})
            return outcome
        finally:
            locks.unlock(key)

    async def run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for job, every in self.intervals.items():
                slot = int(now // every)
                if self._done.get(job) == slot:
                    continue
                self._done[job] = slot
                try:
                    await asyncio.to_thread(self.try_run, job, slot, now)
                except Exception:  # the database may be briefly away; the next slot retries
                    log.exception("scheduler tick failed for %s", job)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.tick)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._locks is not None:
            self._locks.close()
            self._locks = None
