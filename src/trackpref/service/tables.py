"""The service's own tables, in the ledger's database and transactions.

The ledger keeps events, subjects, rights and evidence; the service needs a
few things more, and they must commit *atomically with* the ledger's rows:

* ``service_tallies``: per-site, per-day counts (page views by path,
  referrer domain, device, OS, region, signal, campaign...). They hold no
  identifier at all, one dimension per row (no cross-tabulation but signal by
  device), and they are the only trace a do-not-track event leaves. They are
  incremented in the same transaction as the batch's raw events, so a crash
  can never count an event it did not store, or store one it did not count.
* ``service_secrets``: the admin token's hash and the session-signing key,
  shared by every instance over one PostgreSQL.
* ``service_job_runs``: which scheduled job ran for which interval, and where;
  the primary key makes "exactly once per interval" a database fact.
* ``service_consent_records`` / ``service_consent_events``: the exception
  API's consent records (the middleware's ``ConsentStore``), so that every
  instance over one PostgreSQL sees the same exceptions.

The statements go through the store's ``execute`` / ``executemany`` /
``query``, so they run on its connection, inside its transactions, on both
backends.

Counting is append-only: each batch *inserts* its counts into
``service_tally_log`` (a heap, no index: a few sequential pages per commit),
and every few seconds one batch also folds the log into ``service_tallies``
in the same transaction. Upserting each batch's counts straight into the
keyed table touched a random page per path and cost about half of what a
single-event commit costs. Readers add the two tables, so a count is visible
from the commit that acknowledged its event.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..ledger.storage import Store, StoreError
from ..ledger.storage.sql import SQLStore
from ..signals.tracking_exceptions import ExceptionSet
from ..web.consent import ConsentEvent

__all__ = ["ServiceTables", "TablesConsentStore", "Tally", "is_postgres"]

#: (site, day, metric, value) -> count
Tally = tuple[str, str, str, str]

_SCHEMA_LOCK = 0x7472_6B73  # "trks": taken while PostgreSQL creates the tables

_DDL = (
    """CREATE TABLE IF NOT EXISTS service_tallies (
        site TEXT NOT NULL,
        day TEXT NOT NULL,
        metric TEXT NOT NULL,
        value TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (site, day, metric, value)
    )""",
    """CREATE TABLE IF NOT EXISTS service_tally_log (
        site TEXT NOT NULL,
        day TEXT NOT NULL,
        metric TEXT NOT NULL,
        value TEXT NOT NULL,
        n BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS service_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS service_job_runs (
        job TEXT NOT NULL,
        slot BIGINT NOT NULL,
        instance TEXT NOT NULL,
        started_at {real} NOT NULL,
        finished_at {real},
        outcome TEXT,
        PRIMARY KEY (job, slot)
    )""",
    """CREATE TABLE IF NOT EXISTS service_consent_records (
        consent_id TEXT PRIMARY KEY,
        exceptions TEXT NOT NULL,
        updated {real} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS service_consent_events (
        id {serial},
        consent_id TEXT NOT NULL,
        event TEXT NOT NULL,
        at {real} NOT NULL,
        detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS service_consent_events_id ON service_consent_events (consent_id)",
    # The records retention deletes by age at every run.
    "CREATE INDEX IF NOT EXISTS service_consent_events_at ON service_consent_events (at)",
)
_SQLITE = {"real": "REAL", "serial": "INTEGER PRIMARY KEY"}
_POSTGRES = {
    "real": "DOUBLE PRECISION",
    "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}
_LOG_COLUMNS = ("site", "day", "metric", "value", "n")
#: SQLite: the fold runs in the writer's transaction, which holds the database's
#: only write lock, so nothing is added to the log between the two statements.
_FOLD_SQLITE = (
    "INSERT INTO service_tallies (site, day, metric, value, n) "
    "SELECT site, day, metric, value, SUM(n) FROM service_tally_log WHERE true "
    "GROUP BY site, day, metric, value "
    "ON CONFLICT (site, day, metric, value) DO UPDATE SET n = service_tallies.n + excluded.n",
    "DELETE FROM service_tally_log",
)
#: PostgreSQL: several instances log at once, so the fold moves exactly the
#: rows it deletes; keys in order, so two folds never deadlock on them.
_FOLD_POSTGRES = (
    "WITH moved AS (DELETE FROM service_tally_log RETURNING site, day, metric, value, n) "
    "INSERT INTO service_tallies (site, day, metric, value, n) "
    "SELECT site, day, metric, value, SUM(n) FROM moved "
    "GROUP BY site, day, metric, value ORDER BY site, day, metric, value "
    "ON CONFLICT (site, day, metric, value) DO UPDATE SET n = service_tallies.n + excluded.n",
)
#: Fold when this many rows were logged, or this many seconds passed.
FOLD_ROWS = 20_000
FOLD_SECONDS = 5.0


def is_postgres(store: Store) -> bool:
    return store.url.startswith(("postgresql:", "postgres:"))


def _sql(store: Store) -> SQLStore:
    if not isinstance(store, SQLStore):
        raise StoreError(f"the service needs an SQL store, not {type(store).__name__}")
    return store


class ServiceTables:
    """The service's tables over one store's connection (any site's sibling)."""

    def __init__(self, store: Store) -> None:
        self.store = _sql(store)
        self.postgres = is_postgres(store)
        self._logged = 0
        self._folded_at = time.monotonic()
        types = _POSTGRES if self.postgres else _SQLITE
        with self.store.transaction():
            if self.postgres:
                self.store.query("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for ddl in _DDL:
                self.store.execute(ddl.format(**types))

    # -- durability -----------------------------------------------------------
    def set_synchronous(self, mode: str) -> None:
        """SQLite only: ``FULL`` makes each acknowledging commit survive power loss."""
        if mode not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous: {mode!r} is not NORMAL or FULL")
        if not self.postgres:
            self.store.execute(f"PRAGMA synchronous={mode}")

    def synchronous(self) -> str:
        if self.postgres:
            rows = self.store.query("SHOW synchronous_commit")
            return str(rows[0][0])
        rows = self.store.query("PRAGMA synchronous")
        return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(rows[0][0]), "?")

    # -- tallies ----------------------------------------------------------------
    def add_tallies(self, counts: Mapping[Tally, int]) -> None:
        """Add counts; call inside the batch's transaction (one ``executemany``).

        Folds the log into ``service_tallies`` when it is due, in the same
        transaction, so a count is never lost or counted twice.
        """
        rows = [(site, day, metric, value, n) for (site, day, metric, value), n in counts.items()]
        if not rows:
            return
        store = self.store
        with store.transaction():  # joins the caller's; holds the store's lock
            store.insert_rows("service_tally_log", _LOG_COLUMNS, rows)
            self._logged += len(rows)
            if self._logged >= FOLD_ROWS or time.monotonic() - self._folded_at >= FOLD_SECONDS:
                self._fold()

    def fold_tallies(self) -> None:
        """Move the logged counts into ``service_tallies`` now (at shutdown, in tests)."""
        with self.store.transaction():
            self._fold()

    def _fold(self) -> None:
        for sql in _FOLD_POSTGRES if self.postgres else _FOLD_SQLITE:
            self.store.execute(sql)
        self._logged = 0
        self._folded_at = time.monotonic()

    def logged_tallies(self) -> int:
        """Rows in the log not folded yet (all instances')."""
        return int(self.store.query("SELECT COUNT(*) FROM service_tally_log")[0][0])

    def tallies(
        self,
        site: str,
        *,
        since: str,
        until: str,
        metrics: Sequence[str] | None = None,
    ) -> list[tuple[str, str, str, int]]:
        """(day, metric, value, n) of one site for days ``since <= day <= until``."""
        where = "WHERE site = ? AND day >= ? AND day <= ?"
        params: list[Any] = [site, since, until]
        if metrics:
            where += " AND metric IN (" + ", ".join("?" for _ in metrics) + ")"
            params.extend(metrics)
        if self.postgres:
            # One statement, one snapshot: another instance may fold meanwhile.
            sql = (
                f"SELECT day, metric, value, SUM(n) FROM ("  # noqa: S608 - placeholders only
                f"SELECT day, metric, value, n FROM service_tallies {where} UNION ALL "
                f"SELECT day, metric, value, n FROM service_tally_log {where}"
                ") AS t GROUP BY day, metric, value"
            )
            return [(d, m, v, int(n)) for d, m, v, n in self.store.query(sql, params + params)]
        # SQLite: the keyed rows as they are (an index range, no sort), plus the
        # few the log holds; one transaction, so no fold can fall in between.
        with self.store.snapshot():
            rows = self.store.query(
                f"SELECT day, metric, value, n FROM service_tallies {where}",  # noqa: S608
                params,
            )
            logged = self.store.query(
                f"SELECT day, metric, value, SUM(n) FROM service_tally_log {where} "  # noqa: S608
                "GROUP BY day, metric, value",
                params,
            )
        if not logged:
            return rows
        merged = {(d, m, v): n for d, m, v, n in rows}
        for d, m, v, n in logged:
            merged[d, m, v] = merged.get((d, m, v), 0) + n
        return [(d, m, v, n) for (d, m, v), n in merged.items()]

    def sites(self) -> list[str]:
        rows = self.store.query(
            "SELECT site FROM service_tallies UNION SELECT site FROM service_tally_log "
            "ORDER BY site"
        )
        return [str(r[0]) for r in rows]

    def delete_tallies_before(self, day: str) -> int:
        with self.store.transaction():
            n = self.store.execute("DELETE FROM service_tallies WHERE day < ?", (day,))
            return n + self.store.execute("DELETE FROM service_tally_log WHERE day < ?", (day,))

    # -- secrets ----------------------------------------------------------------
    def secret(self, name: str) -> str | None:
        rows = self.store.query("SELECT value FROM service_secrets WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def ensure_secret(self, name: str, candidate: str) -> tuple[str, bool]:
        """Store ``candidate`` unless a value exists; (the stored value, whether it was ours)."""
        with self.store.transaction():
            n = self.store.execute(
                "INSERT INTO service_secrets (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, candidate),
            )
            value = self.secret(name)
        assert value is not None
        return value, n == 1

    def set_secret(self, name: str, value: str) -> None:
        self.store.execute(
            "INSERT INTO service_secrets (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def increment_counter(self, name: str) -> int:
        """Raise a counter kept among the secrets by one, atomically; its new value.

        One upsert, so two instances raising it at once both count (the row is
        locked by whichever writes first).
        """
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO service_secrets (name, value) VALUES (?, '1') "
                "ON CONFLICT (name) DO UPDATE SET value = "
                "CAST(CAST(service_secrets.value AS INTEGER) + 1 AS TEXT)",
                (name,),
            )
            value = self.secret(name)
        assert value is not None
        return int(value)

    # -- scheduled jobs -----------------------------------------------------------
    def claim_job(self, job: str, slot: int, instance: str, at: float) -> bool:
        """True if this instance is the first to claim ``job`` for ``slot``."""
        n = self.store.execute(
            "INSERT INTO service_job_runs (job, slot, instance, started_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (job, slot) DO NOTHING",
            (job, slot, instance, at),
        )
        return n == 1

    def unclaim_job(self, job: str, slot: int) -> None:
        self.store.execute("DELETE FROM service_job_runs WHERE job = ? AND slot = ?", (job, slot))

    def finish_job(self, job: str, slot: int, at: float, outcome: str) -> None:
        self.store.execute(
            "UPDATE service_job_runs SET finished_at = ?, outcome = ? WHERE job = ? AND slot = ?",
            (at, outcome[:2000], job, slot),
        )

    def job_runs(self, job: str | None = None) -> list[tuple[str, int, str, float, float | None]]:
        sql = "SELECT job, slot, instance, started_at, finished_at FROM service_job_runs"
        params: tuple[Any, ...] = ()
        if job is not None:
            sql += " WHERE job = ?"
            params = (job,)
        rows = self.store.query(sql + " ORDER BY job, slot", params)
        return [
            (str(j), int(s), str(i), float(a), None if f is None else float(f))
            for j, s, i, a, f in rows
        ]

    def last_run(self, job: str) -> tuple[int, float | None, str | None] | None:
        rows = self.store.query(
            "SELECT slot, finished_at, outcome FROM service_job_runs WHERE job = ? "
            "ORDER BY slot DESC LIMIT 1",
            (job,),
        )
        if not rows:
            return None
        slot, finished, outcome = rows[0]
        return int(slot), None if finished is None else float(finished), outcome

    # -- records retention ----------------------------------------------------------
    def purge_records(
        self,
        before: float,
        *,
        jobs: Sequence[str],
        job_runs_before: float,
        now: float,
    ) -> dict[str, int]:
        """The service's share of the records retention; rows deleted per table.

        An exception record none of whose grants is live any more, and that
        nobody changed since ``before``, grants nothing and goes. A browser's
        exception history (``service_consent_events``) is evidence of what it
        granted: it is kept while the browser holds an exception, and its
        entries older than ``before`` go once it holds none. The runs of the
        scheduled ``jobs`` are bookkeeping: they go after ``job_runs_before``.
        Other rows of ``service_job_runs`` (the rollup's per-day markers) say
        what was done once and must stay, or it would be done again.
        """
        if not jobs:
            raise ValueError("jobs: name the scheduled jobs whose old runs may go")
        store = self.store
        out: dict[str, int] = {}
        with store.transaction():
            stale = store.query(
                "SELECT consent_id, exceptions FROM service_consent_records WHERE updated < ?",
                (before,),
            )
            ended = [cid for cid, text in stale if not _grants_live(text, now)]
            out["service_consent_records"] = 0
            for cid in ended:
                out["service_consent_records"] += store.execute(
                    "DELETE FROM service_consent_records WHERE consent_id = ? AND updated < ?",
                    (cid, before),
                )
            out["service_consent_events"] = store.execute(
                "DELETE FROM service_consent_events WHERE at < ? AND NOT EXISTS (SELECT 1 FROM "
                "service_consent_records r WHERE r.consent_id = service_consent_events.consent_id)",
                (before,),
            )
            marks = ", ".join("?" * len(jobs))
            sql = (
                "DELETE FROM service_job_runs WHERE started_at < ? AND finished_at IS NOT NULL "  # noqa: S608 - placeholders only
                f"AND job IN ({marks})"
            )
            out["service_job_runs"] = store.execute(sql, (job_runs_before, *jobs))
        return out

    # -- audits ---------------------------------------------------------------------
    def table_names(self) -> list[str]:
        """Every table of the data database (for "what do you hold?" scans)."""
        if self.postgres:
            rows = self.store.query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name"
            )
        else:
            rows = self.store.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        return [str(r[0]) for r in rows]

    def dump_table(self, name: str) -> list[tuple[Any, ...]]:
        if name not in self.table_names():
            raise StoreError(f"no table {name!r}")
        quoted = '"' + name.replace('"', '""') + '"'
        return self.store.query(f"SELECT * FROM {quoted}")  # noqa: S608 - a listed name

    def integrity_check(self) -> str:
        if self.postgres:
            return "ok"
        rows = self.store.query("PRAGMA integrity_check")
        return ", ".join(str(r[0]) for r in rows)


class TablesConsentStore:
    """The middleware's :class:`~trackpref.web.consent.ConsentStore` on the service tables."""

    def __init__(self, tables: ServiceTables) -> None:
        self.tables = tables
        self._lock = threading.Lock()

    def load(self, consent_id: str) -> ExceptionSet:
        rows = self.tables.store.query(
            "SELECT exceptions FROM service_consent_records WHERE consent_id = ?", (consent_id,)
        )
        if not rows:
            return ExceptionSet()
        try:
            return ExceptionSet.from_json(json.loads(rows[0][0]))
        except ValueError:
            return ExceptionSet()  # a record that no longer parses grants nothing

    def save(self, consent_id: str, exceptions: ExceptionSet, *, event: str, now: float) -> None:
        detail = json.dumps(exceptions.to_json(), sort_keys=True)
        store = self.tables.store
        with store.transaction():
            if exceptions.grants:
                store.execute(
                    "INSERT INTO service_consent_records (consent_id, exceptions, updated) "
                    "VALUES (?, ?, ?) ON CONFLICT (consent_id) DO UPDATE SET "
                    "exceptions = excluded.exceptions, updated = excluded.updated",
                    (consent_id, detail, now),
                )
            else:
                store.execute(
                    "DELETE FROM service_consent_records WHERE consent_id = ?", (consent_id,)
                )
            store.execute(
                "INSERT INTO service_consent_events (consent_id, event, at, detail) "
                "VALUES (?, ?, ?, ?)",
                (consent_id, event, now, detail),
            )

    def history(self, consent_id: str) -> list[ConsentEvent]:
        rows = self.tables.store.query(
            "SELECT consent_id, event, at, detail FROM service_consent_events "
            "WHERE consent_id = ? ORDER BY id",
            (consent_id,),
        )
        return [ConsentEvent(str(c), str(e), float(a), str(d)) for c, e, a, d in rows]

    def count(self) -> int:
        rows = self.tables.store.query("SELECT COUNT(*) FROM service_consent_records")
        return int(rows[0][0])


def _grants_live(text: str, now: float) -> bool:
    """Whether a stored exception record still grants anything at ``now``."""
    try:
        grants = ExceptionSet.from_json(json.loads(text)).grants
    except ValueError:
        return False  # a record that no longer parses grants nothing (see load)
    return any(g.live(now) for g in grants)


def merge_counts(parts: Iterable[Mapping[Tally, int]]) -> dict[Tally, int]:
    out: dict[Tally, int] = {}
    for part in parts:
        for k, n in part.items():
            out[k] = out.get(k, 0) + n
    return out
