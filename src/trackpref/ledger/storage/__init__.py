"""Where the ledger keeps its rows: one interface, SQLite or PostgreSQL.

``open_store`` picks the backend from the address:

* ``sqlite:///ledger.db`` (relative), ``sqlite:////var/lib/ledger.db``
  (absolute, as SQLAlchemy writes them) or a bare path: SQLite, with the
  subject keys in ``ledger.db.keys`` (or ``keys=`` another path);
* ``postgresql://user@host/db`` (or ``postgres://``): PostgreSQL through
  psycopg 3, with the subject keys in ``keys=`` another database's DSN, or
  by default in the ``trackpref_keys`` schema, which backups must exclude
  (``pg_dump --exclude-schema=trackpref_keys``).
"""

from __future__ import annotations

from pathlib import Path

from ...db_url import parse_db_url
from .base import (
    TABLES,
    AuditEntry,
    Consent,
    DropItem,
    EventRow,
    OutboxItem,
    PurgeEntry,
    RightsRequest,
    Store,
    StoredEvent,
    StoreError,
    Subject,
    Verification,
    decode_fields,
    encode_fields,
)

__all__ = [
    "TABLES",
    "AuditEntry",
    "Consent",
    "DropItem",
    "EventRow",
    "OutboxItem",
    "PurgeEntry",
    "RightsRequest",
    "Store",
    "StoreError",
    "StoredEvent",
    "Subject",
    "Verification",
    "decode_fields",
    "encode_fields",
    "open_store",
]


def open_store(url_or_path: str | Path, *, site: str, keys: str | Path | None = None) -> Store:
    """Open (and migrate) the store at ``url_or_path`` for ``site``.

    ``keys`` says where subject keys live: a file path for SQLite, a DSN for
    PostgreSQL (a separate database), or for PostgreSQL a bare schema name.
    """
    try:
        kind, target = parse_db_url(url_or_path)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if kind == "postgres":
        from .postgres import PostgresStore  # psycopg is an optional dependency

        return PostgresStore(target, site=site, keys=None if keys is None else str(keys))
    from .sqlite import SQLiteStore

    return SQLiteStore(target, site=site, keys_path=keys)
