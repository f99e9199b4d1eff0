"""Where user-granted exceptions live on the server, as consent records.

TPE keeps exceptions in the user agent; browsers no longer implement the API,
so trackpref's shim stores them with the site instead, keyed by an opaque
consent id held in a first-party cookie. The record is the person's consent:
it says what was granted, when, for how long, and every change to it, so that
a site can show a regulator the consent behind each ``DNT: 0`` it acted on.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..signals.tracking_exceptions import ExceptionSet

__all__ = [
    "CONSENT_COOKIE",
    "ConsentEvent",
    "ConsentStore",
    "MemoryConsentStore",
    "SQLiteConsentStore",
    "new_consent_id",
    "valid_consent_id",
]

#: The cookie that holds the opaque consent id. It identifies a consent, and it
#: is only ever set because the person asked for an exception.
CONSENT_COOKIE = "tp_consent"
_ID_BYTES = 18


def new_consent_id() -> str:
    return secrets.token_urlsafe(_ID_BYTES)


def valid_consent_id(value: str) -> bool:
    """Cheap shape check so that garbage cookies never reach the store."""
    return (
        16 <= len(value) <= 64 and value.isascii() and all(c.isalnum() or c in "-_" for c in value)
    )


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    consent_id: str
    event: str  # "store", "remove", "expire"
    at: float
    detail: str


class ConsentStore(Protocol):
    """Storage for consent records; adapters call it, the core never does."""

    def load(self, consent_id: str) -> ExceptionSet: ...

    def save(
        self, consent_id: str, exceptions: ExceptionSet, *, event: str, now: float
    ) -> None: ...

    def history(self, consent_id: str) -> list[ConsentEvent]: ...


#: Changes a :class:`MemoryConsentStore` remembers per consent id (the newest).
MEMORY_HISTORY = 1000


class MemoryConsentStore:
    """For tests and single-process demos; lost on restart, and per process.

    It holds at most ``max_records`` consents and :data:`MEMORY_HISTORY`
    changes of each; past that the oldest go, which can only make the site
    treat someone as not having consented (the safe direction). Anyone can
    create records through the exception API, so a flood of them can push
    out real ones: another reason it is not for production. Use
    :class:`SQLiteConsentStore` (or the ledger) in production and whenever
    several workers serve one site.
    """

    def __init__(self, max_records: int = 100_000) -> None:
        self._sets: dict[str, ExceptionSet] = {}
        self._events: dict[str, list[ConsentEvent]] = {}
        self._max = max_records
        self._lock = threading.Lock()

    def load(self, consent_id: str) -> ExceptionSet:
        return self._sets.get(consent_id, ExceptionSet())

    def save(self, consent_id: str, exceptions: ExceptionSet, *, event: str, now: float) -> None:
        with self._lock:
            if exceptions.grants:
                self._sets[consent_id] = exceptions
            else:
                self._sets.pop(consent_id, None)
            while len(self._sets) > self._max:
                oldest = next(iter(self._sets))
                del self._sets[oldest]
                self._events.pop(oldest, None)
            detail = json.dumps(exceptions.to_json(), sort_keys=True)
            history = self._events.setdefault(consent_id, [])
            history.append(ConsentEvent(consent_id, event, now, detail))
            if len(history) > MEMORY_HISTORY:  # one cookie must not fill the memory
                del history[: len(history) - MEMORY_HISTORY]
            while len(self._events) > self._max:
                del self._events[next(iter(self._events))]

    def history(self, consent_id: str) -> list[ConsentEvent]:
        return list(self._events.get(consent_id, ()))


class SQLiteConsentStore:
    """Consent records in one SQLite file (WAL), with the full change history."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._local = threading.local()
        with self._connect() as conn:
            conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS consent_records (
                    consent_id TEXT PRIMARY KEY,
                    exceptions TEXT NOT NULL,
                    updated REAL NOT NULL
                );
                CREATE TABLE IF NOT EXISTS consent_events (
                    id INTEGER PRIMARY KEY,
                    consent_id TEXT NOT NULL,
                    event TEXT NOT NULL,
                    at REAL NOT NULL,
                    detail TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS consent_events_id ON consent_events(consent_id);
                """
            )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=10, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def load(self, consent_id: str) -> ExceptionSet:
        row = (
            self._connect()
            .execute("SELECT exceptions FROM consent_records WHERE consent_id = ?", (consent_id,))
            .fetchone()
        )
        if row is None:
            return ExceptionSet()
        try:
            return ExceptionSet.from_json(json.loads(row[0]))
        except ValueError:
            # A record that no longer parses grants nothing; it is kept for review.
            return ExceptionSet()

    def save(self, consent_id: str, exceptions: ExceptionSet, *, event: str, now: float) -> None:
        detail = json.dumps(exceptions.to_json(), sort_keys=True)
        with self._connect() as conn:
            if exceptions.grants:
                conn.execute(
                    "INSERT INTO consent_records(consent_id, exceptions, updated) VALUES (?, ?, ?) "
                    "ON CONFLICT(consent_id) DO UPDATE SET exceptions = excluded.exceptions, "
                    "updated = excluded.updated",
                    (consent_id, detail, now),
                )
            else:
                conn.execute("DELETE FROM consent_records WHERE consent_id = ?", (consent_id,))
            conn.execute(
                "INSERT INTO consent_events(consent_id, event, at, detail) VALUES (?, ?, ?, ?)",
                (consent_id, event, now, detail),
            )

    def history(self, consent_id: str) -> list[ConsentEvent]:
        rows = (
            self._connect()
            .execute(
                "SELECT consent_id, event, at, detail FROM consent_events "
                "WHERE consent_id = ? ORDER BY id",
                (consent_id,),
            )
            .fetchall()
        )
        return [ConsentEvent(*row) for row in rows]

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
