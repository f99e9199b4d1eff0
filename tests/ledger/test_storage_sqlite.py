"""SQLite specifics: files, pragmas, URLs and keeping the keys apart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trackpref.ledger.storage import Store, StoreError, open_store
from trackpref.ledger.storage.sqlite import SQLiteStore, keys_path_for

KEY = bytes(range(200, 232))  # 32 recognisable bytes


def file_bytes(path: Path) -> bytes:
    out = b""
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def test_keys_live_in_their_own_file(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        store.put_key("subject-1", KEY)
        assert keys_path_for(db) == Path(str(db) + ".keys")
        assert KEY not in file_bytes(db)  # a backup of the data holds no key
        assert KEY in file_bytes(keys_path_for(db))
        assert store.destroy_key("subject-1")
        # secure_delete and a truncating checkpoint: the bytes are gone from the file
        assert KEY not in file_bytes(keys_path_for(db))
    finally:
        store.close()


def test_key_file_can_be_placed_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "vault").mkdir()
    keys = tmp_path / "vault" / "k.db"
    store = open_store(tmp_path / "ledger.db", site="s", keys=keys)
    try:
        store.put_key("a", KEY)
        assert keys.exists()
        assert not keys_path_for(tmp_path / "ledger.db").exists()
    finally:
        store.close()
    with pytest.raises(StoreError, match="must not be the data file"):
        open_store(tmp_path / "x.db", site="s", keys=tmp_path / "x.db")
    with pytest.raises(StoreError, match="in-memory"):
        SQLiteStore(":memory:", site="s")


def test_pragmas(sqlite_store: Store) -> None:
    assert isinstance(sqlite_store, SQLiteStore)
    conn = sqlite3.connect(sqlite_store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    shared = sqlite_store._sq
    assert shared.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert shared.keys.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert shared.keys.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, expected in [
        ("sqlite:///rel.db", tmp_path / "rel.db"),
        (f"sqlite:///{tmp_path}/abs.db", tmp_path / "abs.db"),
        (str(tmp_path / "bare.db"), tmp_path / "bare.db"),
        (tmp_path / "path.db", tmp_path / "path.db"),
    ]:
        store = open_store(url, site="s")
        try:
            assert isinstance(store, SQLiteStore)
            assert Path(store.path).resolve() == expected
            assert store.url.startswith("sqlite:///")
        finally:
            store.close()
    for bad, needle in [
        ("sqlite://host/x.db", "sqlite:///"),
        ("sqlite:///", "no database path"),
        ("mysql://db/x", "unknown store scheme"),
    ]:
        with pytest.raises(StoreError, match=needle):
            open_store(bad, site="s")


def test_unopenable_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        open_store(tmp_path / "missing-dir" / "x.db", site="s")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        open_store(junk, site="s")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    open_store(db, site="s").close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this trackpref knows"):
        open_store(db, site="s")


def test_other_processes_see_committed_rows(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    a = open_store(db, site="s")
    b = open_store(db, site="s")
    try:
        a.put_key("x", KEY)
        assert b.get_key("x") == KEY
        a.ensure_salt("w", b"1" * 16)
        assert b.get_salt("w") == b"1" * 16
    finally:
        a.close()
        b.close()


def test_a_snapshot_reads_one_state_and_blocks_no_writer(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    a = open_store(db, site="s")
    b = SQLiteStore(db, site="s", busy_timeout=0.2)  # a writer that will not wait long
    try:
        assert isinstance(a, SQLiteStore)
        assert isinstance(b, SQLiteStore)
        a.execute("CREATE TABLE counts (n INTEGER)")
        a.execute("INSERT INTO counts VALUES (1)")
        with a.snapshot():
            assert a.query("SELECT SUM(n) FROM counts") == [(1,)]
            with b.transaction():  # another process writes meanwhile: not blocked
                b.execute("INSERT INTO counts VALUES (2)")
            assert a.query("SELECT SUM(n) FROM counts") == [(1,)], "one state throughout"
        assert a.query("SELECT SUM(n) FROM counts") == [(3,)]
    finally:
        a.close()
        b.close()
