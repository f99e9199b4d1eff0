"""PostgreSQL: for when one machine is not enough.

Many service processes (or machines) write to one database through psycopg 3.
Batches go in with ``COPY ... FROM STDIN``, several times faster than even
pipelined ``executemany``. Schema migrations take an advisory lock, so
processes starting together do not race.

Subject keys live apart from the data. Pass ``keys=`` the DSN of another
database (best: it can sit on another server with its own backups), or a
schema name; by default they go to the ``trackpref_keys`` schema, which every
backup of the data must exclude (``pg_dump --exclude-schema=trackpref_keys``).
PostgreSQL does not overwrite deleted rows in place; the store vacuums the
key table after each destruction so the space is reused, and the key
database's WAL should not be archived for longer than the data's retention.

Deleted personal data (rights deletions, retention purges) is no different:
it stays in dead tuples until VACUUM, and in free space, WAL segments, WAL
archives and base backups until those are overwritten or expire.
:meth:`PostgresStore.scrub_deleted` vacuums the tables that lost rows since
the last call, on a connection of its own so that writers go on; it is not
run after each deletion (VACUUM of a large events table takes seconds), the
retention run calls it. VACUUM makes the space reusable, it does not zero
it: erasure on the disk itself takes ``VACUUM FULL`` (an exclusive lock) or
storage that is encrypted and retired, and backups and WAL archives kept no
longer than the shortest retention.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql as pgsql

from .base import TABLES, EventRow, StoreError
from .migrations import migrations
from .sql import Shared, SQLStore, field_name

__all__ = ["DEFAULT_KEYS_SCHEMA", "PostgresStore"]

DEFAULT_KEYS_SCHEMA = "trackpref_keys"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
#: An arbitrary constant: the advisory lock taken while migrating.
_MIGRATION_LOCK = 0x7472_6B70  # "trkp"

_COPY_EVENTS = (
    "COPY events (site, dataset, ts, subject_ref, visitor_hash, decision_id, fields) FROM STDIN"
)


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages and ``Store.url``."""
    if "://" not in dsn:
        return re.sub(r"password\s*=\s*\S+", "password=***", dsn)
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _pg(sql: str, cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate memo
    """Rewrite ``?`` placeholders to psycopg's ``%s``."""
    out = cache.get(sql)
    if out is None:
        if "%" in sql:
            raise StoreError("SQL text must not contain '%'")
        out = cache[sql] = sql.replace("?", "%s")
    return out


class _PGShared(Shared):
    def __init__(self, conn: psycopg.Connection[Any], keys: psycopg.Connection[Any]) -> None:
        super().__init__()
        self.conn = conn
        self.keys = keys


def _connect(dsn: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL at {_redact(dsn)}: {exc}") from None


def _migrate(conn: psycopg.Connection[Any], *, keys: bool, where: str) -> set[str]:
    """Apply the missing migrations; the tables they erased data from."""
    erased: set[str] = set()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK + int(keys),))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
        known = migrations()
        if current > len(known):
            raise StoreError(
                f"{where} has schema version {current}, newer than this trackpref knows "
                f"({len(known)}); upgrade trackpref instead of downgrading the database"
            )
        for mig in known[current:]:
            changed = 0
            for sql in mig.keys_postgres if keys else mig.postgres:
                changed += max(conn.execute(sql).rowcount, 0)
            if changed and not keys:  # a new, empty database has nothing to scrub
                erased.update(mig.scrubs)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                (mig.version, mig.name, time.time()),
            )
    return erased


class PostgresStore(SQLStore):
    """A store in a PostgreSQL database, keys in another database or schema."""

    def __init__(
        self,
        dsn: str,
        *,
        site: str,
        keys: str | None = None,
        _shared: _PGShared | None = None,
    ) -> None:
        self.dsn = dsn
        self.keys_location = keys
        if _shared is None:
            conn = _connect(dsn)
            try:
                keys_conn = self._open_keys(dsn, keys)
            except BaseException:
                conn.close()
                raise
            try:
                erased = _migrate(conn, keys=False, where=_redact(dsn))
                _migrate(keys_conn, keys=True, where=f"the key store of {_redact(dsn)}")
            except psycopg.Error as exc:
                conn.close()
                keys_conn.close()
                raise StoreError(f"cannot prepare {_redact(dsn)}: {exc}") from None
            except BaseException:
                conn.close()
                keys_conn.close()
                raise
            _shared = _PGShared(conn, keys_conn)
            _shared.scrub_tables.update(erased)
        super().__init__(site, _redact(dsn), _shared)
        self._pgs = _shared

    @staticmethod
    def _open_keys(dsn: str, keys: str | None) -> psycopg.Connection[Any]:
        if keys is not None and ("://" in keys or "=" in keys):
            if keys == dsn:
                raise StoreError("the key database must not be the data database")
            return _connect(keys)
        schema = keys or DEFAULT_KEYS_SCHEMA
        if not _SCHEMA_NAME.match(schema) or schema == "public":
            raise StoreError(
                f"keys={schema!r}: give a DSN of another database or a schema name "
                "(lowercase, not 'public')"
            )
        conn = _connect(dsn)
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare the key schema {schema!r}: {exc}") from None
        return conn

    def for_site(self, site: str) -> PostgresStore:
        return PostgresStore(self.dsn, site=site, keys=self.keys_location, _shared=self._pgs)

    def close(self) -> None:
        with self._pgs.lock:
            if not self._pgs.closed:
                self._pgs.closed = True
                self._pgs.conn.close()
                self._pgs.keys.close()

    # -- primitives ----------------------------------------------------------
    def _begin(self) -> None:
        self._pgs.conn.execute("BEGIN")

    def _begin_read(self) -> None:
        # READ COMMITTED would give each statement its own snapshot.
        self._pgs.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _commit(self) -> None:
        self._pgs.conn.execute("COMMIT")

    def _rollback(self) -> None:
        self._pgs.conn.execute("ROLLBACK")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._pgs.lock:
            self._check_open()
            return self._pgs.conn.execute(_pg(sql), params).rowcount

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pgs.lock:
            self._check_open()
            return self._pgs.conn.execute(_pg(sql), params).fetchall()

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._pgs.lock:
            self._check_open()
            with self._pgs.conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        with self._pgs.lock:
            self._check_open()
            row = self._pgs.conn.execute(_pg(sql + " RETURNING id"), params).fetchone()
        assert row is not None
        return int(row[0])

    def _keys_execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._pgs.lock:
            self._check_open()
            return self._pgs.keys.execute(_pg(sql), params).rowcount

    def _keys_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pgs.lock:
            self._check_open()
            return self._pgs.keys.execute(_pg(sql), params).fetchall()

    # -- backend-specific operations ----------------------------------------
    def insert_events(self, rows: Sequence[EventRow]) -> int:
        self._check_sites(rows)
        self._copy(rows)
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
        self._copy(zip(repeat(self.site), *columns, strict=False))
        return n

    def _copy(self, rows: Iterable[Sequence[Any]]) -> None:
        with self.transaction(), self._pgs.conn.cursor() as cur, cur.copy(_COPY_EVENTS) as copy:
            write = copy.write_row
            for r in rows:
                if r[3] == "" or r[4] == "":  # an empty reference is no reference, as on SQLite
                    r = (*r[:3], r[3] or None, r[4] or None, *r[5:])
                write(r)

    def strip_field(self, dataset: str, name: str, *, before: float) -> int:
        name = field_name(name)
        return self._erase(
            "events",
            "UPDATE events SET fields = fields - ? WHERE site = ? AND dataset = ? AND ts < ? "
            "AND fields -> ? IS NOT NULL",
            (name, self.site, dataset, before, name),
        )

    def _has_field(self, name: str) -> tuple[str, str]:
        return "fields -> ? IS NOT NULL", field_name(name)

    def destroy_key(self, subject_id: str) -> bool:
        with self._pgs.lock:
            gone = super().destroy_key(subject_id)
            if gone:
                self._pgs.keys.execute("VACUUM subject_keys")
        return gone

    def scrub_deleted(self) -> bool:
        with self._pgs.lock:
            self._check_open()
            tables = sorted(self._pgs.scrub_tables.intersection(TABLES))
            self._pgs.scrub_tables.difference_update(tables)
        if not tables:
            return True
        # VACUUM refuses to run in a transaction block, and on the shared
        # connection it would hold the lock (and every writer) for its length.
        query = pgsql.SQL("VACUUM {}").format(pgsql.SQL(", ").join(map(pgsql.Identifier, tables)))
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute(query)
        except psycopg.Error:
            with self._pgs.lock:
                self._pgs.scrub_tables.update(tables)
            return False
        return True
