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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .trackers import DEFAULT_THRESHOLD, TrackerKnowledge

__all__ = ["CrawlInfo", "ResultStore", "StoreError"]

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


def crawl_key(urls: Sequence[str], options: Mapping[str, Any]) -> str:
    blob = json.dumps({"urls": list(urls), "options": dict(options)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultStore:
    """One SQLite file. Not shared between threads; one crawl writes at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: results schema {row[0]}, this trackpref reads {SCHEMA_VERSION}"
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable results database: {exc}") from exc

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
        """Resume the unfinished crawl of these URLs and options, or start one."""
        ordered = tuple(dict.fromkeys(urls))
        key = crawl_key(ordered, options)
        if not fresh:
            row = self.db.execute(
                "SELECT id, started_at FROM crawls WHERE key=? AND finished_at IS NULL "
                "ORDER BY id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is not None:
                done = {
                    r[0]
                    for r in self.db.execute("SELECT url FROM results WHERE crawl_id=?", (row[0],))
                }
                return CrawlInfo(row[0], True, row[1], ordered, frozenset(done))
        started = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO crawls (key, started_at, options) VALUES (?, ?, ?)",
                (key, started, json.dumps(dict(options), sort_keys=True)),
            )
            crawl_id = cur.lastrowid
            assert crawl_id is not None
            self.db.executemany(
                "INSERT INTO crawl_urls (crawl_id, position, url) VALUES (?, ?, ?)",
                [(crawl_id, i, u) for i, u in enumerate(ordered)],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return CrawlInfo(crawl_id, False, started, ordered, frozenset())

    def finish_crawl(self, crawl_id: int) -> None:
        self.db.execute("UPDATE crawls SET finished_at=? WHERE id=?", (_now(), crawl_id))

    def crawl(self, crawl_id: int) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT id, started_at, finished_at, options FROM crawls WHERE id=?", (crawl_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no crawl {crawl_id}")
        total = self.db.execute(
            "SELECT count(*) FROM crawl_urls WHERE crawl_id=?", (crawl_id,)
        ).fetchone()[0]
        audited, failed = self.db.execute(
            "SELECT count(*), count(error_kind) FROM results WHERE crawl_id=?", (crawl_id,)
        ).fetchone()
        return {
            "id": row[0],
            "started_at": row[1],
            "finished_at": row[2],
            "complete": row[2] is not None,
            "options": json.loads(row[3]),
            "total": total,
            "audited": audited,
            "with_errors": failed,
        }

    # -- results --------------------------------------------------------------

    def save(
        self,
        crawl_id: int,
        site_json: Mapping[str, Any],
        sightings: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Record one audited site and what it taught about trackers, atomically."""
        verdicts = site_json.get("verdicts", {})
        error = site_json.get("error")
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO results (crawl_id, url, site, audited_at, gpc_honored, "
                "dnt_honored, declarations_valid, claims_contradicted, error_kind, report) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    crawl_id,
                    site_json["url"],
                    site_json.get("site") or site_json["url"],
                    site_json.get("audited_at") or now,
                    _bool(verdicts.get("gpc_honored")),
                    _bool(verdicts.get("dnt_honored")),
                    _bool(verdicts.get("declarations_valid")),
                    _bool(verdicts.get("claims_contradicted")),
                    error.get("kind") if isinstance(error, dict) else None,
                    json.dumps(site_json, ensure_ascii=False, allow_nan=False),
                ),
            )
            self.db.executemany(
                "INSERT INTO tracker_sightings (tracker, site, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (tracker, site) DO UPDATE SET last_seen=?",
                [(t, s, now, now, now) for t, s in sightings],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def results(self, crawl_id: int) -> list[dict[str, Any]]:
        """This crawl's site results, in the order the URLs were given."""
        rows = self.db.execute(
            "SELECT r.report FROM results r JOIN crawl_urls u "
            "ON u.crawl_id = r.crawl_id AND u.url = r.url "
            "WHERE r.crawl_id=? ORDER BY u.position",
            (crawl_id,),
        )
        return [json.loads(r[0]) for r in rows]

    def previous(self, url: str, before_crawl: int) -> dict[str, Any] | None:
        """The latest result for ``url`` from an earlier crawl."""
        row = self.db.execute(
            "SELECT report FROM results WHERE url=? AND crawl_id<? ORDER BY crawl_id DESC LIMIT 1",
            (url, before_crawl),
        ).fetchone()
        return json.loads(row[0]) if row is not None else None

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every audit of ``url``, oldest first: when, and the verdicts."""
        rows = self.db.execute(
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
        for tracker, site in self.db.execute("SELECT tracker, site FROM tracker_sightings"):
            sightings.setdefault(tracker, set()).add(site)
        return TrackerKnowledge(
            MappingProxyType({k: frozenset(v) for k, v in sightings.items()}),
            tds_trackers,
            MappingProxyType(dict(entities or {})),
            threshold,
        )
