"""PostgreSQL specifics: where the keys live, DSNs, errors."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from trackpref.ledger.storage import StoreError, open_store
from trackpref.ledger.storage.postgres import DEFAULT_KEYS_SCHEMA, PostgresStore, _redact

KEY = bytes(range(200, 232))

pytestmark = pytest.mark.postgres


def tables_by_schema(dsn: str) -> dict[str, set[str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
            "('pg_catalog', 'information_schema')"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for schema, table in rows:
        out.setdefault(schema, set()).add(table)
    return out


def test_keys_default_to_their_own_schema(postgres_dsn: str) -> None:
    store = open_store(postgres_dsn, site="news.example")
    try:
        assert isinstance(store, PostgresStore)
        store.put_key("s1", KEY)
        schemas = tables_by_schema(postgres_dsn)
        assert "subject_keys" in schemas[DEFAULT_KEYS_SCHEMA]
        assert "subject_keys" not in schemas["public"]
        assert "events" in schemas["public"]
        assert store.get_key("s1") == KEY
    finally:
        store.close()


def test_keys_in_another_database(postgres_dsn: str) -> None:
    name = "keys_" + uuid.uuid4().hex[:10]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    keys_dsn = psycopg.conninfo.make_conninfo(postgres_dsn, dbname=name)
    try:
        store = open_store(postgres_dsn, site="news.example", keys=keys_dsn)
        try:
            store.put_key("s1", KEY)
            assert "subject_keys" in tables_by_schema(keys_dsn)["public"]
            data = tables_by_schema(postgres_dsn)
            assert all("subject_keys" not in tables for tables in data.values())
            assert store.destroy_key("s1")
            assert store.get_key("s1") is None
        finally:
            store.close()
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_bad_key_locations(postgres_dsn: str) -> None:
    with pytest.raises(StoreError, match="schema name"):
        open_store(postgres_dsn, site="s", keys="public")
    with pytest.raises(StoreError, match="schema name"):
        open_store(postgres_dsn, site="s", keys='x"; DROP SCHEMA public; --')
    with pytest.raises(StoreError, match="must not be the data database"):
        open_store(postgres_dsn, site="s", keys=postgres_dsn)


def test_connection_errors_hide_the_password() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://alice:s3cret@127.0.0.1:1/nodb?connect_timeout=2", site="s")
    assert "s3cret" not in str(info.value)
    assert "cannot connect" in str(info.value)


def test_redact() -> None:
    assert _redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert _redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert _redact("host=h password=pw dbname=x") == "host=h password=*** dbname=x"


def test_newer_schema_is_refused(postgres_dsn: str) -> None:
    open_store(postgres_dsn, site="s").close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    with pytest.raises(StoreError, match="newer than this trackpref knows"):
        open_store(postgres_dsn, site="s")
