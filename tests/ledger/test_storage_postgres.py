"""PostgreSQL specifics: where the keys live, DSNs, errors."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from trackpref.ledger.storage import EventRow, StoreError, Subject, open_store
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


def vacuum_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {name: int(n) for name, n in rows}


def test_deletions_wait_for_a_vacuum_off_the_shared_connection(postgres_dsn: str) -> None:
    """VACUUM is too slow to follow each deletion: it waits for ``scrub_deleted``."""
    store = open_store(postgres_dsn, site="news.example")
    try:
        did = store.put_decision(
            dataset="pageviews", preference="allow", purposes=[], recipients=[], explanation={}
        )
        store.insert_events(
            [
                EventRow(store.site, "pageviews", float(i), "s1", None, did, '{"path": "/"}')
                for i in range(100)
            ]
        )
        store.upsert_subject(Subject("s1", email="s1@mail.example", created_at=1.0))
        assert not store.scrub_pending
        with store.transaction():
            assert store.delete_subject_events("s1") == 100
            assert store.delete_subject("s1")
        assert store.scrub_pending
        before = vacuum_counts(postgres_dsn)
        with store.transaction():  # a transaction of the store's own does not stop it
            store.count_events()
            assert store.scrub_deleted() is True
        assert not store.scrub_pending
        deadline = time.monotonic() + 10  # statistics reach the views asynchronously
        while time.monotonic() < deadline:
            after = vacuum_counts(postgres_dsn)
            if all(after[t] > before.get(t, 0) for t in ("events", "subjects")):
                break
            time.sleep(0.1)
        assert after["events"] > before.get("events", 0)
        assert after["subjects"] > before.get("subjects", 0)
        assert after.get("consents", 0) == before.get("consents", 0), "only what lost rows"
    finally:
        store.close()
