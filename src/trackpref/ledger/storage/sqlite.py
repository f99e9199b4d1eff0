"""SQLite: the embedded default, one data file plus one key file.

Settings and why:

* WAL with ``synchronous=NORMAL``: readers never block the writer and a
  commit costs no fsync; a power cut can lose the last few commits, never
  corrupt the file. Other settings (a larger page cache, ``temp_store``,
  the checkpoint interval, ``mmap_size``) were measured and made no
  difference to ingest, so they are left alone.
* Events go in 50 rows to a statement, with empty references bound as ''
  (see ``_VALUES``): 1.5 to 1.6 times the rows per second of a plain
  ``executemany`` into the same table with the same two indexes.
* One connection, one lock: SQLite allows a single writer, so the store
  serializes its own threads instead of letting them fight over the file lock.
  Other processes wait up to ``busy_timeout``.
* ``secure_delete=ON`` on both files, and a truncating WAL checkpoint after
  every committed deletion of personal data (rights deletion, retention
  purges, field stripping, corrections, scrubbed requests and payloads,
  destroyed salts and keys). Without them a deleted row stays readable in
  the data file's free space (``FAST`` leaves free pages as they were) and
  in old WAL frames, and a backup of the file carries it. ``secure_delete``
  costs nothing on inserts (it only zeroes what is freed); the checkpoint
  runs only after deletions, never on the insert path. It waits at most
  :data:`_SCRUB_WAIT` for readers of other connections: one that holds an
  old snapshot makes it partial, and the store tries again after the next
  deletion, at :meth:`SQLiteStore.scrub_deleted` and at ``close()``.
* The subject keys live in ``<db>.keys``, a second file with
  ``synchronous=FULL`` (a destroyed key must stay destroyed after a crash);
  its WAL is truncated after each destruction. Back up the data file alone:
  the backup then holds no key, which is what makes crypto-shredding work.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from .base import EventRow, StoreError
from .migrations import migrations
from .sql import Shared, SQLStore, field_name

__all__ = ["SQLiteStore", "keys_path_for"]

#: Python 3.11's sqlite3 binds None through its adapter registry, which
#: raises and clears an AttributeError each time: about 0.3 µs per None,
#: more than the rest of the row. Most events have no subject reference and
#: many no visitor hash, so those two go in as '' and NULLIF stores NULL (an
#: empty reference is no reference: the gate refuses it anyway).
_VALUES = "(?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), ?, ?)"
_EVENTS_HEAD = (
    "INSERT INTO events (site, dataset, ts, subject_ref, visitor_hash, decision_id, fields) VALUES "
)
#: Rows per INSERT statement. Each execution of a statement opens a cursor on
#: the table and on each index; one statement of many rows opens them once,
#: which takes about a third off the cost of a row with both indexes.
_ROWS_PER_INSERT = 50


@lru_cache(maxsize=256)  # a few tables, at most _ROWS_PER_INSERT sizes each
def _rows_statement(head: str, values: str, rows: int) -> str:
    """``head`` followed by ``rows`` copies of ``values``: one statement for a small batch."""
    return head + ", ".join([values] * rows)


def _insert_in_chunks(
    conn: sqlite3.Connection, head: str, values: str, width: int, flat: list[Any]
) -> None:
    """Insert a flat list of ``width``-wide rows, :data:`_ROWS_PER_INSERT` per statement.

    The rows left over go in one statement of their own size, not one by one:
    a commit of a few dozen single-event requests is all left over, and one
    statement costs about a quarter less per row (measured on the events
    table with its indexes, commit included).
    """
    step = _ROWS_PER_INSERT * width
    whole = len(flat) - len(flat) % step
    if whole:
        full = _rows_statement(head, values, _ROWS_PER_INSERT)
        conn.executemany(full, [flat[i : i + step] for i in range(0, whole, step)])
    if whole < len(flat):
        rest = (len(flat) - whole) // width
        conn.execute(_rows_statement(head, values, rest), flat[whole:])


_WIDTH = len(EventRow._fields)
_REFERENCES = (EventRow._fields.index("subject_ref"), EventRow._fields.index("visitor_hash"))
_NONE_AS_EMPTY: dict[object, object] = {None: ""}

#: Seconds a scrub after a deletion waits for other connections' readers.
#: The store's lock is held meanwhile, so the wait is short: a reader still
#: there makes the checkpoint partial, and it is tried again later.
_SCRUB_WAIT = 0.05
#: At ``close()`` nothing else waits for the lock: readers get longer.
_CLOSE_WAIT = 1.0


def _checkpoint(conn: sqlite3.Connection, wait: float | None, busy_timeout: float) -> bool:
    """Fold the WAL into the file and truncate it; True if nothing was left behind.

    ``wait`` replaces the connection's busy timeout for the checkpoint
    (``None`` keeps it). TRUNCATE waits for readers of other connections to
    leave the WAL; with a reader still there it reports busy instead of
    failing, and the frames it could not reset keep their old pages.
    """
    try:
        if wait is not None:
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            if wait is not None:
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    except sqlite3.Error:
        return False
    return bool(busy == 0 and log == done)


def keys_path_for(path: str | Path) -> Path:
    """Where the key file of a data file lives by default."""
    return Path(f"{path}.keys")


class _SQLiteShared(Shared):
    def __init__(
        self, conn: sqlite3.Connection, keys: sqlite3.Connection, busy_timeout: float
    ) -> None:
        super().__init__()
        self.conn = conn
        self.keys = keys
        self.busy_timeout = busy_timeout


def _connect(path: str, *, synchronous: str, busy_timeout: float) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout,
            cached_statements=512,  # multi-row inserts add a statement per size
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open SQLite database {path}: {exc}") from None
    return conn


def _migrate(conn: sqlite3.Connection, path: str, *, keys: bool) -> set[str]:
    """Apply the missing migrations; the tables they erased data from."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    known = migrations()
    if current > len(known):
        raise StoreError(
            f"{path} has schema version {current}, newer than this trackpref knows "
            f"({len(known)}); upgrade trackpref instead of downgrading the database"
        )
    erased: set[str] = set()
    for mig in known[current:]:
        statements = mig.keys_sqlite if keys else mig.sqlite
        conn.execute("BEGIN IMMEDIATE")
        try:
            changed = 0
            for sql in statements:
                changed += max(conn.execute(sql).rowcount, 0)
            if changed and not keys:  # a new, empty database has nothing to scrub
                erased.update(mig.scrubs)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (mig.version, mig.name, time.time()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return erased


class SQLiteStore(SQLStore):
    """A store in one SQLite file (and its ``.keys`` companion)."""

    def __init__(
        self,
        path: str | Path,
        *,
        site: str,
        keys_path: str | Path | None = None,
        busy_timeout: float = 30.0,
        _shared: _SQLiteShared | None = None,
    ) -> None:
        path = str(path)
        if _shared is None:
            if path == ":memory:":
                raise StoreError("an in-memory SQLite store cannot keep keys apart; use a file")
            kpath = str(keys_path) if keys_path is not None else str(keys_path_for(path))
            if Path(kpath).resolve() == Path(path).resolve():
                raise StoreError("the key file must not be the data file")
            conn = _connect(path, synchronous="NORMAL", busy_timeout=busy_timeout)
            keys = _connect(kpath, synchronous="FULL", busy_timeout=busy_timeout)
            conn.execute("PRAGMA secure_delete=ON")
            keys.execute("PRAGMA secure_delete=ON")
            try:
                erased = _migrate(conn, path, keys=False)
                _migrate(keys, kpath, keys=True)
            except sqlite3.Error as exc:
                conn.close()
                keys.close()
                raise StoreError(f"cannot use SQLite database {path}: {exc}") from None
            except BaseException:
                conn.close()
                keys.close()
                raise
            _shared = _SQLiteShared(conn, keys, busy_timeout)
            _shared.scrub_tables.update(erased)
            self.keys_path = kpath
        else:
            self.keys_path = str(keys_path)
        self.path = path
        super().__init__(site, f"sqlite:///{path}", _shared)
        self._sq = _shared
        if _shared.scrub_tables and _shared.depth == 0:  # a migration erased something
            self.scrub_deleted()

    def for_site(self, site: str) -> SQLiteStore:
        return SQLiteStore(self.path, site=site, keys_path=self.keys_path, _shared=self._sq)

    def close(self) -> None:
        with self._sq.lock:
            if not self._sq.closed:
                # The last connection to close checkpoints by itself, but
                # another process may keep the file open: do it here.
                if self._sq.scrub_tables:
                    self._scrub(min(_CLOSE_WAIT, self._sq.busy_timeout))
                self._sq.closed = True
                self._sq.conn.close()
                self._sq.keys.close()

    # -- erasure -------------------------------------------------------------
    def scrub_deleted(self) -> bool:
        with self._sq.lock:
            self._check_open()
            return self._scrub(_SCRUB_WAIT)

    def _after_erase(self) -> None:
        self._scrub(_SCRUB_WAIT)

    def _scrub(self, wait: float) -> bool:
        """Checkpoint both files (lock held); forget the pending tables once both are clean.

        Inside a transaction the WAL holds uncommitted frames that no
        checkpoint can take: the scrub waits for the commit instead.
        """
        shared = self._sq
        if shared.depth:
            shared.scrub_due = True
            return False
        timeout = shared.busy_timeout
        clean = _checkpoint(shared.conn, wait, timeout) & _checkpoint(shared.keys, wait, timeout)
        if clean:
            shared.scrub_tables.clear()
        return clean

    # -- primitives ----------------------------------------------------------
    def _begin(self) -> None:
        self._sq.conn.execute("BEGIN IMMEDIATE")

    def _begin_read(self) -> None:
        # WAL: the snapshot is taken at the first read, and no write lock at all.
        self._sq.conn.execute("BEGIN DEFERRED")

    def _commit(self) -> None:
        self._sq.conn.execute("COMMIT")

    def _rollback(self) -> None:
        self._sq.conn.execute("ROLLBACK")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._sq.lock:
            self._check_open()
            return self._sq.conn.execute(sql, params).rowcount

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._sq.lock:
            self._check_open()
            return self._sq.conn.execute(sql, params).fetchall()

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._sq.lock:
            self._check_open()
            self._sq.conn.executemany(sql, rows)

    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        with self._sq.lock:
            self._check_open()
            rowid = self._sq.conn.execute(sql, params).lastrowid
        assert rowid is not None
        return rowid

    def _keys_execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._sq.lock:
            self._check_open()
            return self._sq.keys.execute(sql, params).rowcount

    def _keys_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._sq.lock:
            self._check_open()
            return self._sq.keys.execute(sql, params).fetchall()

    # -- backend-specific operations ----------------------------------------
    def insert_events(self, rows: Sequence[EventRow]) -> int:
        self._check_sites(rows)  # also checks that every row has seven values
        self._insert_flat(list(chain.from_iterable(rows)))
        return len(rows)

    def insert_columns(
        self,
        datasets: Sequence[str],
        ts: Sequence[float],
        subjects: Sequence[str | None],
        visitor_hashes: Sequence[str | None],
        decision_ids: Sequence[int],
        fields: Sequence[str],
    ) -> int:
        columns = (datasets, ts, subjects, visitor_hashes, decision_ids, fields)
        n = self._column_length(columns)
        # zip hands chain the same tuple again and again: nothing is built per row.
        self._insert_flat(list(chain.from_iterable(zip(repeat(self.site), *columns, strict=False))))
        return n

    def _insert_flat(self, flat: list[Any]) -> None:
        """Insert rows given as one flat list of values, in one transaction."""
        width = _WIDTH
        for k in _REFERENCES:
            refs = flat[k::width]
            flat[k::width] = list(map(_NONE_AS_EMPTY.get, refs, refs))
        with self.transaction():
            _insert_in_chunks(self._sq.conn, _EVENTS_HEAD, _VALUES, width, flat)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        if any(len(row) != len(columns) for row in rows):
            raise StoreError(f"{table}: every row must have {len(columns)} values")
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - own names
        values = "(" + ", ".join("?" * len(columns)) + ")"
        with self._sq.lock:
            self._check_open()
            flat = list(chain(*rows))
            _insert_in_chunks(self._sq.conn, head, values, len(columns), flat)

    def strip_field(self, dataset: str, name: str, *, before: float) -> int:
        path = "$." + field_name(name)
        return self._erase(
            "events",
            "UPDATE events SET fields = json_remove(fields, ?) WHERE site = ? AND dataset = ? "
            "AND ts < ? AND json_type(fields, ?) IS NOT NULL",
            (path, self.site, dataset, before, path),
        )

    def _has_field(self, name: str) -> tuple[str, str]:
        return "json_type(fields, ?) IS NOT NULL", "$." + field_name(name)

    def destroy_key(self, subject_id: str) -> bool:
        with self._sq.lock:
            gone = super().destroy_key(subject_id)
            # Old WAL frames may still hold the key page: fold them in and
            # truncate, waiting the full busy timeout (a key is what
            # crypto-shredding rests on). Left behind, it is tried again later.
            if not _checkpoint(self._sq.keys, None, self._sq.busy_timeout):
                self._sq.scrub_tables.add("subject_keys")
        return gone
