"""What a ``--db`` value names: one reading for every command that takes one.

The ledger, the collection service, ``drop`` and the auditor all accept a
SQLite path, ``sqlite:///path`` (as SQLAlchemy spells it) or
``postgresql://...``; reading them in one place keeps them agreeing on what
is refused (an unknown scheme, an empty path that SQLite would turn into a
throwaway database).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import unquote, urlsplit

__all__ = ["DbUrl", "parse_db_url"]


class DbUrl(NamedTuple):
    kind: Literal["sqlite", "postgres"]
    #: The SQLite path, or the PostgreSQL DSN as given.
    target: str


def parse_db_url(value: str | Path) -> DbUrl:
    """Read a ``--db`` value; :class:`ValueError` says what is wrong with it."""
    text = str(value)
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return DbUrl("postgres", text)
    if scheme == "sqlite":
        # As SQLAlchemy reads it: sqlite:///relative.db, sqlite:////absolute/path.db
        if not text.lower().startswith("sqlite:///"):
            raise ValueError(f"{text}: write sqlite:///relative.db or sqlite:////absolute.db")
        path = unquote(text[len("sqlite:///") :])
        if not path.strip():
            raise ValueError(f"{text}: no database path")
        return DbUrl("sqlite", path)
    if scheme:
        raise ValueError(
            f"{text}: unknown store scheme {scheme!r}; use sqlite:///path, a path, "
            "or postgresql://..."
        )
    if not text.strip():
        # SQLite would open a private temporary database and throw it away.
        raise ValueError("no database path (an empty one would be a throwaway database)")
    return DbUrl("sqlite", text)
