"""SQLite specifics: files, pragmas, URLs and keeping the keys apart."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from trackpref.ledger.storage import (
    Consent,
    EventRow,
    RightsRequest,
    Store,
    StoreError,
    Subject,
    encode_fields,
    open_store,
)
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
    assert shared.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1  # ON, not FAST (2)


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


# -- deleted data must not survive in the files ---------------------------------
# A backup copies the data file (and whatever WAL sits next to it): deleted
# rows must be gone from both, not merely unlinked. secure_delete=FAST leaves
# them on free pages; without a truncating checkpoint old WAL frames keep them.

MARK = b"ZEBRA-4242"
SUBJECT = "subj-ZEBRA-4242"


def residue(db: Path, marker: bytes = MARK) -> dict[str, int]:
    """How often ``marker`` occurs in the data file and its WAL, by file name."""
    found: dict[str, int] = {}
    for suffix in ("", "-wal"):
        p = Path(f"{db}{suffix}")
        if p.exists():
            n = p.read_bytes().count(marker)
            if n:
                found[p.name] = n
    return found


def fill_around_subject(store: Store) -> None:
    """A subject's rows between plenty of others, so they fill pages of their own."""
    did = store.put_decision(
        dataset="pageviews",
        preference="allow",
        purposes=["security"],
        recipients=[],
        explanation={},
    )

    def rows(n: int, prefix: str, subject: str | None) -> list[EventRow]:
        return [
            EventRow(
                store.site,
                "pageviews",
                1000.0 + i,
                subject,
                "VID-ZEBRA-4242" if subject else None,
                did,
                encode_fields({"path": f"/{prefix}/{i}"}),
            )
            for i in range(n)
        ]

    store.insert_events(rows(3000, "other", None))
    store.insert_events(rows(300, "secret/ZEBRA-4242-page", SUBJECT))
    store.insert_events(rows(3000, "other2", None))
    store.upsert_subject(Subject(SUBJECT, email="zebra-4242@example.org", created_at=1.0))
    store.add_consent(Consent(SUBJECT, "consent", ("ZEBRA-4242-partner",), None, 1.0))
    store.create_request(
        RightsRequest("req-1", "deletion", "gdpr", "verified", 1.0, 2.0, SUBJECT, "zebra-4242@x")
    )
    # The rows have been in the data file for a while: a checkpoint folded them in.
    assert store.scrub_deleted()


def delete_subject(store: Store) -> None:
    """What a rights deletion does to the data file, in one transaction."""
    with store.transaction():
        assert store.delete_subject_events(SUBJECT) == 300
        assert store.delete_consents_for(SUBJECT) == 1
        assert store.update_request("req-1", email=None, subject_ref=None, detail={})
        assert store.delete_subject(SUBJECT)


def test_a_deleted_subject_leaves_no_bytes_in_the_files(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        fill_around_subject(store)
        assert residue(db), "the marker must be in the files to begin with"
        delete_subject(store)
        assert store.events_for_subject(SUBJECT) == []
        # While the store is open: no old WAL frame, no free page keeps it.
        assert residue(db) == {}
        assert not store.scrub_pending
    finally:
        store.close()
    assert residue(db) == {}


def _correct_marked(store: Store) -> None:
    with store.transaction():
        for e in store.iter_events("pageviews", before=500.0):
            store.update_event_fields(e.id, '{"path": "/corrected"}')


def _scrub_payloads(store: Store) -> None:
    with store.transaction():
        for item in store.outbox():
            store.update_webhook(item.id, payload="", status="delivered")


@pytest.mark.parametrize(
    ("marker", "erase"),
    [
        pytest.param(
            b"ZEBRA-EVT", lambda s: s.delete_events("pageviews", before=500.0), id="delete_events"
        ),
        pytest.param(
            b"ZEBRA-EVT",
            lambda s: s.strip_field("pageviews", "path", before=500.0),
            id="strip_field",
        ),
        pytest.param(b"ZEBRA-EVT", _correct_marked, id="update_event_fields"),
        pytest.param(
            b"ZEBRA-SALT", lambda s: s.destroy_salts_before("9999"), id="destroy_salts_before"
        ),
        pytest.param(b"ZEBRA-HOOK", _scrub_payloads, id="update_webhook"),
    ],
)
def test_every_erasing_method_leaves_no_bytes_in_the_files(
    tmp_path: Path, marker: bytes, erase: Callable[[Store], object]
) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        did = store.put_decision(
            dataset="pageviews", preference="allow", purposes=[], recipients=[], explanation={}
        )
        marked = [(float(i), f"/ZEBRA-EVT/{i}") for i in range(300)]  # older than 500
        others = [(1000.0 + i, f"/{i}") for i in range(3000)]
        store.insert_events(
            [
                EventRow(store.site, "pageviews", ts, None, None, did, encode_fields({"path": p}))
                for ts, p in marked + others
            ]
        )
        for i in range(200):
            store.ensure_salt(f"2025-{i:05}", b"ZEBRA-SALT-%05d" % i)
        with store.transaction():
            for _ in range(200):
                store.enqueue_webhook(
                    request_id=None, recipient="cdn", url="https://x/", payload="ZEBRA-HOOK", at=1.0
                )
        assert store.scrub_deleted()  # the rows have reached the data file
        assert residue(db, marker)
        erase(store)
        assert store.count_events() >= 3000
        assert residue(db, marker) == {}
    finally:
        store.close()
    assert residue(db, marker) == {}


def test_a_scrub_held_back_by_a_reader_is_finished_at_close(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    reader = sqlite3.connect(db, isolation_level=None)  # another process, say a report
    try:
        fill_around_subject(store)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 6300
        delete_subject(store)  # the deletion itself does not fail or wait long
        assert store.scrub_pending
        assert residue(db), "a reader's snapshot keeps the old pages"
        assert store.scrub_deleted() is False
        reader.execute("COMMIT")  # the reader moves on but keeps the file open
        store.close()  # so SQLite does not checkpoint by itself: the store must
        assert residue(db) == {}
    finally:
        store.close()
        reader.close()
    assert residue(db) == {}


def test_a_scrub_asked_for_inside_a_transaction_waits_for_the_commit(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        fill_around_subject(store)
        with store.transaction():
            assert store.delete_subject_events(SUBJECT) == 300
            assert store.scrub_deleted() is False  # nothing committed to fold in yet
        assert not store.scrub_pending
        assert MARK not in Path(f"{db}-wal").read_bytes()
    finally:
        store.close()


def delete_then_fail(store: Store) -> None:
    with store.transaction():
        store.delete_subject_events(SUBJECT)
        raise RuntimeError("changed my mind")


def test_a_rolled_back_deletion_is_scrubbed_later(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        fill_around_subject(store)
        with pytest.raises(RuntimeError, match="changed my mind"):
            delete_then_fail(store)
        assert store.scrub_pending  # conservative: retried by the next scrub
        assert len(store.events_for_subject(SUBJECT)) == 300
        assert store.scrub_deleted()
        assert not store.scrub_pending
    finally:
        store.close()


def test_inserts_do_not_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        fill_around_subject(store)  # ends with a scrub: the WAL is empty
        assert Path(f"{db}-wal").stat().st_size == 0
        did = store.put_decision(
            dataset="pageviews", preference="allow", purposes=[], recipients=[], explanation={}
        )
        store.insert_events([EventRow(store.site, "pageviews", 1.0, None, None, did, "{}")] * 100)
        assert Path(f"{db}-wal").stat().st_size > 0  # the hot path leaves the WAL alone
        assert not store.scrub_pending
    finally:
        store.close()


@pytest.mark.parametrize("path", ["", "  ", "sqlite:///"])
def test_an_empty_path_is_refused_not_a_throwaway_database(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="no database path"):
        open_store(path, site="s")
    assert not list(tmp_path.iterdir()), "no stray key file"
