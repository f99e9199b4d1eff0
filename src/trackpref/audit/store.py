"""Audit results in SQLite: resumable crawls, history, learned trackers.

Each site's result is written in its own transaction the moment it is known,
so an interrupted crawl (Ctrl-C, a crash, a lost machine) loses at most the
sites that were in flight, and running the same command again carries on
with the rest. A crawl is identified by its URL list and the options that
change what is measured; the same list with the same options resumes an
unfinished crawl, and once that crawl is finished, starts a new one: a
re-audit, compared with the previous one site by site.

The tracker sightings table is what Privacy Badger keeps in its
``snitch_map``: (third party, first-party site) pairs, so trackers are learned
across every crawl stored in the file.

A crawl shared by several machines keeps the same tables in PostgreSQL
(:class:`~trackpref.audit.store_postgres.PostgresResultStore`, ``--db
postgresql://...``): every machine running the same command joins the same
unfinished crawl and *claims* one site at a time, with a lease; a machine that
dies leaves its site to be claimed again once the lease runs out. The SQL is
shared; only the connection and the schema's types differ.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..db_url import parse_db_url
from .text import clean_json, clean_text
from .trackers import DEFAULT_THRESHOLD, TrackerKnowledge

__all__ = ["CrawlInfo", "ResultStore", "StoreError", "open_results"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS crawls (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    options TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crawl_urls (
    crawl_id INTEGER NOT NULL REFERENCES crawls(id),
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (crawl_id, url)
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    crawl_id INTEGER NOT NULL REFERENCES crawls(id),
    url TEXT NOT NULL,
    site TEXT NOT NULL,
    audited_at TEXT NOT NULL,
    gpc_honored INTEGER,
    dnt_honored INTEGER,
    declarations_valid INTEGER,
    claims_contradicted INTEGER,
    error_kind TEXT,
    report TEXT NOT NULL,
    UNIQUE (crawl_id, url)
);
CREATE INDEX IF NOT EXISTS results_by_url ON results (url, id);
CREATE TABLE IF NOT EXISTS claims (
    crawl_id INTEGER NOT NULL REFERENCES crawls(id),
    url TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (crawl_id, url)
);
CREATE TABLE IF NOT EXISTS tracker_sightings (
    tracker TEXT NOT NULL,
    site TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (tracker, site)
);
"""
SCHEMA_VERSION = "1"


class StoreError(RuntimeError):
    """The results file cannot be used (not SQLite, a newer schema, locked)."""


@dataclass(frozen=True, slots=True)
class CrawlInfo:
    id: int
    resumed: bool
    started_at: str
    urls: tuple[str, ...]
    done: frozenset[str]

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(u for u in self.urls if u not in self.done)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _bool(value: object) -> int | None:
    return None if value is None else int(bool(value))


#: A ``fresh`` crawl joins one of the same sites and options begun this many
#: seconds ago on a shared store (the other machines of the same launch).
FRESH_JOIN_SECONDS = 600


def crawl_key(urls: Sequence[str], options: Mapping[str, Any]) -> str:
    blob = json.dumps({"urls": list(urls), "options": dict(options)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultStore:
    """One SQLite file. Not shared between threads; one crawl writes at a time.

    The methods speak SQL that SQLite and PostgreSQL both understand, through
    four primitives (:meth:`_run`, :meth:`_rows`, :meth:`_begin`,
    :meth:`_end`) that :class:`~trackpref.audit.store_postgres.PostgresResultStore`
    replaces.
    """

    #: Several machines may work on one crawl (claims, leases): PostgreSQL only.
    shared = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable results database: {exc}") from exc

    def _check_schema(self) -> None:
        row = self._one("SELECT value FROM meta WHERE key='schema'")
        if row is None:
            self._run("INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise StoreError(
                f"{self.where}: results schema {row[0]}, this trackpref reads {SCHEMA_VERSION}"
            )

    # -- primitives ---------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.db.execute(sql, params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _begin(self, lock: str | None = None) -> None:
        """Start a write transaction (``lock`` names what concurrent writers
        must take in turn; SQLite's single write lock covers everything)."""
        self.db.execute("BEGIN IMMEDIATE")

    def _end(self, ok: bool) -> None:
        self.db.execute("COMMIT" if ok else "ROLLBACK")

    def _epoch(self) -> float:
        """Now, for leases: on a shared store the database's clock, which every
        machine reads alike, not each machine's own."""
        return time.time()

    @contextlib.contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[None]:
        """One write transaction, rolled back if anything in it fails."""
        self._begin(lock)
        try:
            yield
        except BaseException:
            self._end(False)
            raise
        self._end(True)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- crawls ---------------------------------------------------------------

    def open_crawl(
        self, urls: Sequence[str], options: Mapping[str, Any], *, fresh: bool = False
    ) -> CrawlInfo:
        """Resume the unfinished crawl of these URLs and options, or start one.

        On a shared store every machine running the same command lands here:
        the lock on the crawl's key makes the first one create it and the
        others join it.
        """
        ordered = tuple(dict.fromkeys(urls))
        key = crawl_key(ordered, options)
        with self._transaction(lock=key):
            row = self._one(
                "SELECT id, started_at FROM crawls WHERE key=? AND finished_at IS NULL "
                "ORDER BY id DESC LIMIT 1",
                (key,),
            )
            if row is not None and fresh and not self._just_started(str(row[1])):
                row = None
            if row is not None:
                done = {
                    r[0] for r in self._rows("SELECT url FROM results WHERE crawl_id=?", (row[0],))
                }
                return CrawlInfo(int(row[0]), True, str(row[1]), ordered, frozenset(done))
            # The database's clock on a shared store, as _just_started reads it.
            started = dt.datetime.fromtimestamp(self._epoch(), dt.UTC).isoformat(timespec="seconds")
            new = self._one(
                "INSERT INTO crawls (key, started_at, options) VALUES (?, ?, ?) RETURNING id",
                (key, started, json.dumps(dict(options), sort_keys=True)),
            )
            assert new is not None
            crawl_id = int(new[0])
            self._many(
                "INSERT INTO crawl_urls (crawl_id, position, url) VALUES (?, ?, ?)",
                [(crawl_id, i, u) for i, u in enumerate(ordered)],
            )
            return CrawlInfo(crawl_id, False, started, ordered, frozenset())

    def _just_started(self, started_at: str) -> bool:
        """Whether a shared crawl began so recently that a ``fresh`` start joins
        it: several machines given ``--fresh`` at once make one new crawl."""
        if not self.shared:
            return False
        try:
            begun = dt.datetime.fromisoformat(started_at).timestamp()
        except ValueError:
            return False
        # A second's slack: started_at is kept to the second.
        return -1 <= self._epoch() - begun <= FRESH_JOIN_SECONDS

    def finish_crawl(self, crawl_id: int) -> None:
        with self._transaction():
            self._run(
                "UPDATE crawls SET finished_at=? WHERE id=? AND finished_at IS NULL",
                (_now(), crawl_id),
            )

    def crawl(self, crawl_id: int) -> dict[str, Any]:
        row = self._one(
            "SELECT id, started_at, finished_at, options FROM crawls WHERE id=?", (crawl_id,)
        )
        if row is None:
            raise StoreError(f"{self.where}: no crawl {crawl_id}")
        total = self._one("SELECT count(*) FROM crawl_urls WHERE crawl_id=?", (crawl_id,))
        counts = self._one(
            "SELECT count(*), count(error_kind) FROM results WHERE crawl_id=?", (crawl_id,)
        )
        assert total is not None
        assert counts is not None
        return {
            "id": row[0],
            "started_at": row[1],
            "finished_at": row[2],
            "complete": row[2] is not None,
            "options": json.loads(row[3]),
            "total": int(total[0]),
            "audited": int(counts[0]),
            "with_errors": int(counts[1]),
        }

    # -- claims (a crawl shared by several machines) -------------------------------

    def claim(self, crawl_id: int, holder: str, lease: float) -> str | None:
        """The next URL nobody has audited or holds, now held by ``holder``
        for ``lease`` seconds; None when there is none to take right now."""
        with self._transaction(lock=f"claims:{crawl_id}"):
            now = self._epoch()
            row = self._one(
                "SELECT u.url FROM crawl_urls u "
                "LEFT JOIN results r ON r.crawl_id = u.crawl_id AND r.url = u.url "
                "LEFT JOIN claims c ON c.crawl_id = u.crawl_id AND c.url = u.url "
                "WHERE u.crawl_id = ? AND r.url IS NULL "
                "AND (c.url IS NULL OR c.expires_at < ?) "
                "ORDER BY u.position LIMIT 1",
                (crawl_id, now),
            )
            if row is not None:
                self._run(
                    "INSERT INTO claims (crawl_id, url, holder, expires_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (crawl_id, url) DO UPDATE SET holder = excluded.holder, "
                    "expires_at = excluded.expires_at",
                    (crawl_id, row[0], holder, now + lease),
                )
        return None if row is None else str(row[0])

    def renew(self, crawl_id: int, url: str, holder: str, lease: float) -> bool:
        """Extend ``holder``'s claim on ``url`` by ``lease`` seconds from now;
        False if the claim is no longer its own (it ran out and another took it)."""
        with self._transaction(lock=f"claims:{crawl_id}"):
            now = self._epoch()
            mine = self._one(
                "SELECT 1 FROM claims WHERE crawl_id = ? AND url = ? AND holder = ?",
                (crawl_id, url, holder),
            )
            if mine is not None:
                self._run(
                    "UPDATE claims SET expires_at = ? "
                    "WHERE crawl_id = ? AND url = ? AND holder = ?",
                    (now + lease, crawl_id, url, holder),
                )
        return mine is not None

    def release(self, crawl_id: int, holder: str) -> None:
        """Give back what ``holder`` claimed and did not finish (a clean stop)."""
        with self._transaction(lock=f"claims:{crawl_id}"):
            self._run("DELETE FROM claims WHERE crawl_id = ? AND holder = ?", (crawl_id, holder))

    def remaining(self, crawl_id: int) -> int:
        """URLs of the crawl without a result yet (claimed or not)."""
        row = self._one(
            "SELECT count(*) FROM crawl_urls u LEFT JOIN results r "
            "ON r.crawl_id = u.crawl_id AND r.url = u.url "
            "WHERE u.crawl_id = ? AND r.url IS NULL",
            (crawl_id,),
        )
        assert row is not None
        return int(row[0])

    # -- results --------------------------------------------------------------

    def save(
        self,
        crawl_id: int,
        site_json: Mapping[str, Any],
        sightings: Iterable[tuple[str, str]] = (),
        *,
        holder: str | None = None,
    ) -> None:
        """Record one audited site and what it taught about trackers, atomically.

        ``holder``'s claim on the site ends with it. Another machine's claim
        (``holder``'s ran out and it took the site) stays: that machine's
        result replaces this one when it is saved.

        Strings a page put in the result that UTF-8 cannot encode (a lone
        surrogate) are replaced here too, whatever the caller cleaned: the
        database would refuse the whole row, and the crawl could never get
        past the site.
        """
        site_json = clean_json(dict(site_json))
        verdicts = site_json.get("verdicts", {})
        error = site_json.get("error")
        now = _now()
        # Sorted: two machines saving at once take the sightings' rows in one order.
        seen = sorted(set(sightings))
        with self._transaction():
            self._run(
                "INSERT INTO results (crawl_id, url, site, audited_at, gpc_honored, "
                "dnt_honored, declarations_valid, claims_contradicted, error_kind, report) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (crawl_id, url) DO UPDATE SET site = excluded.site, "
                "audited_at = excluded.audited_at, gpc_honored = excluded.gpc_honored, "
                "dnt_honored = excluded.dnt_honored, "
                "declarations_valid = excluded.declarations_valid, "
                "claims_contradicted = excluded.claims_contradicted, "
                "error_kind = excluded.error_kind, report = excluded.report",
                (
                    crawl_id,
                    site_json["url"],
                    clean_text(str(site_json.get("site") or site_json["url"])),
                    site_json.get("audited_at") or now,
                    _bool(verdicts.get("gpc_honored")),
                    _bool(verdicts.get("dnt_honored")),
                    _bool(verdicts.get("declarations_valid")),
                    _bool(verdicts.get("claims_contradicted")),
                    error.get("kind") if isinstance(error, dict) else None,
                    json.dumps(site_json, ensure_ascii=False, allow_nan=False),
                ),
            )
            if seen:
                self._many(
                    "INSERT INTO tracker_sightings (tracker, site, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (tracker, site) DO UPDATE SET last_seen=?",
                    [(t, s, now, now, now) for t, s in seen],
                )
            if holder is None:
                self._run(
                    "DELETE FROM claims WHERE crawl_id = ? AND url = ?",
                    (crawl_id, site_json["url"]),
                )
            else:
                self._run(
                    "DELETE FROM claims WHERE crawl_id = ? AND url = ? AND holder = ?",
                    (crawl_id, site_json["url"], holder),
                )

    def results(self, crawl_id: int) -> list[dict[str, Any]]:
        """This crawl's site results, in the order the URLs were given."""
        rows = self._rows(
            "SELECT r.report FROM results r JOIN crawl_urls u "
            "ON u.crawl_id = r.crawl_id AND u.url = r.url "
            "WHERE r.crawl_id=? ORDER BY u.position",
            (crawl_id,),
        )
        return [json.loads(r[0]) for r in rows]

    def previous(self, url: str, before_crawl: int) -> dict[str, Any] | None:
        """The latest result for ``url`` from an earlier crawl."""
        row = self._one(
            "SELECT report FROM results WHERE url=? AND crawl_id<? ORDER BY crawl_id DESC LIMIT 1",
            (url, before_crawl),
        )
        return json.loads(row[0]) if row is not None else None

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every audit of ``url``, oldest first: when, and the verdicts."""
        rows = self._rows(
            "SELECT crawl_id, audited_at, gpc_honored, dnt_honored, declarations_valid, "
            "claims_contradicted, error_kind FROM results WHERE url=? ORDER BY crawl_id",
            (url,),
        )

        def b(v: int | None) -> bool | None:
            return None if v is None else bool(v)

        return [
            {
                "crawl": r[0],
                "audited_at": r[1],
                "gpc_honored": b(r[2]),
                "dnt_honored": b(r[3]),
                "declarations_valid": b(r[4]),
                "claims_contradicted": b(r[5]),
                "error": r[6],
            }
            for r in rows
        ]

    # -- trackers -------------------------------------------------------------

    def knowledge(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        tds_trackers: frozenset[str] = frozenset(),
        entities: Mapping[str, str] | None = None,
    ) -> TrackerKnowledge:
        sightings: dict[str, set[str]] = {}
        for tracker, site in self._rows("SELECT tracker, site FROM tracker_sightings"):
            sightings.setdefault(tracker, set()).add(site)
        return TrackerKnowledge(
            MappingProxyType({k: frozenset(v) for k, v in sightings.items()}),
            tds_trackers,
            MappingProxyType(dict(entities or {})),
            threshold,
        )


def open_results(target: str | Path) -> ResultStore:
    """A results store: a SQLite path (or ``sqlite:///path``), or ``postgresql://...``
    for a shared crawl (:func:`~trackpref.db_url.parse_db_url`, as every ``--db``)."""
    try:
        kind, where = parse_db_url(target)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if kind == "postgres":
        from .store_postgres import PostgresResultStore

        return PostgresResultStore(where)
    return ResultStore(where)
