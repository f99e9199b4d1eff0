"""The store suite: every test here runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from trackpref.ledger.storage import (
    TABLES,
    AuditEntry,
    Consent,
    DropItem,
    EventRow,
    PurgeEntry,
    RightsRequest,
    Store,
    StoreError,
    Subject,
    Verification,
    encode_fields,
    open_store,
)
from trackpref.ledger.storage.migrations import migrations
from trackpref.ledger.storage.sql import SQLStore

HOSTILE = "'; DROP TABLE events; -- <script>alert(1)</script> \" \\ ü 漢字 👍🏽 %s %(x)s ?"


def decision(store: Store, dataset: str = "pageviews", preference: str = "allow") -> int:
    return store.put_decision(
        dataset=dataset,
        preference=preference,
        purposes=["security"],
        recipients=["cdn"],
        explanation={"rules": [{"rule": "purpose", "target": "security"}]},
    )


def row(
    store: Store, did: int, ts: float, subject: str | None = None, **fields: object
) -> EventRow:
    return EventRow(
        store.site, "pageviews", ts, subject, None, did, encode_fields(fields or {"path": "/"})
    )


@pytest.fixture
def other(store: Store) -> Iterator[Store]:
    return store.for_site("other.example")


def test_schema_is_migrated_once(store: Store, store_url: str) -> None:
    assert store.schema_version() == len(migrations())
    again = open_store(store_url, site="news.example")
    try:
        assert again.schema_version() == len(migrations())
    finally:
        again.close()


def test_migration_2_clears_the_address_of_requests_finished_before_it(
    store_url: str, tmp_path: Any
) -> None:
    """A database from before version 2: finished requests still hold an address."""
    first = open_store(store_url, site="news.example")
    try:
        for rid, status in (("done", "completed"), ("open", "verified"), ("gone", "expired")):
            first.create_request(
                RightsRequest(
                    id=rid,
                    kind="access",
                    regime="gdpr",
                    status=status,
                    received_at=1.0,
                    due_at=2.0,
                    email=f"{rid}-person@mail.example",
                    completed_at=None if status == "verified" else 1.5,
                )
            )
        first.execute("DELETE FROM schema_migrations WHERE version >= 2")
        assert first.schema_version() == 1
    finally:
        first.close()
    again = open_store(store_url, site="news.example")
    try:
        assert again.schema_version() == len(migrations())
        if "://" in store_url:  # PostgreSQL: VACUUM at the retention job's scrub
            assert again.scrub_pending, "what the migration erased is scrubbed like a deletion"
        else:  # SQLite: checkpointed as the store opens
            assert not again.scrub_pending
        emails = {
            rid: getattr(again.get_request(rid), "email", "?") for rid in ("done", "open", "gone")
        }
        assert emails == {"done": None, "open": "open-person@mail.example", "gone": None}
        assert again.scrub_deleted()
        assert not again.scrub_pending
    finally:
        again.close()
    if "://" not in store_url:  # SQLite: no byte of the old addresses is left in the files
        for path in tmp_path.iterdir():
            data = path.read_bytes()
            assert b"done-person" not in data, path.name
            assert b"gone-person" not in data, path.name


def test_the_records_purge_reads_the_audit_log_by_time(sqlite_store: Store) -> None:
    plan = sqlite_store.query(
        "EXPLAIN QUERY PLAN DELETE FROM audit_log WHERE site = ? AND ts < ?", ("s", 1.0)
    )
    assert any("audit_log_ts" in str(row) for row in plan), plan


def test_decisions_are_stored_once(store: Store) -> None:
    a = decision(store)
    assert decision(store) == a
    assert decision(store, preference="do-not-track") != a
    got = store.decision(a)
    assert got is not None
    assert got["purposes"] == ["security"]
    assert got["explanation"]["rules"][0]["target"] == "security"
    assert store.decision(10_000) is None


def test_events_round_trip(store: Store) -> None:
    did = decision(store)
    fields = {"path": HOSTILE, "n": 3, "x": 1.5, "ok": True}
    assert (
        store.insert_events([row(store, did, 100.0, "u1", **fields), row(store, did, 50.0, "u1")])
        == 2
    )
    events = store.events_for_subject("u1")
    assert [e.ts for e in events] == [50.0, 100.0]
    assert events[1].fields == fields
    assert events[1].purposes == ("security",)
    assert events[1].recipients == ("cdn",)
    assert events[1].preference == "allow"
    assert store.count_events() == 2
    assert store.count_events("pageviews") == 2
    assert store.count_events("nothing") == 0
    assert store.oldest_event("pageviews") == 50.0
    assert store.oldest_event("nothing") is None


@pytest.mark.parametrize("n", [1, 2, 49, 50, 51, 99, 100, 123])
def test_every_batch_size_is_inserted_whole_and_in_order(store: Store, n: int) -> None:
    # Rows go in 50 to a statement and the rest in one statement of their own
    # size (SQLite): every size around those edges, events and extension rows.
    did = decision(store)
    store.insert_events([row(store, did, float(i), n=i) for i in range(n)])
    got = list(store.iter_events("pageviews"))
    assert [e.fields["n"] for e in got] == list(range(n))
    assert isinstance(store, SQLStore)
    store.execute("CREATE TABLE scratch_rows (k INTEGER, v TEXT)")
    with store.transaction():
        store.insert_rows(
            "scratch_rows", ("k", "v"), [(i, f"v{i}" if i % 3 else None) for i in range(n)]
        )
    assert store.query("SELECT k, v FROM scratch_rows ORDER BY k") == [
        (i, f"v{i}" if i % 3 else None) for i in range(n)
    ]
    store.insert_rows("scratch_rows", ("k", "v"), [])
    with pytest.raises(StoreError, match="every row must have 2 values"):
        store.insert_rows("scratch_rows", ("k", "v"), [(1, "a"), (2,), (3, "c")])
    assert store.query("SELECT COUNT(*) FROM scratch_rows") == [(n,)]


def test_a_snapshot_sees_one_state_on_both_backends(store: Store, store_url: str) -> None:
    assert isinstance(store, SQLStore)
    store.execute("CREATE TABLE snap (n INTEGER)")
    store.execute("INSERT INTO snap VALUES (1)")
    other = open_store(store_url, site=store.site)
    try:
        assert isinstance(other, SQLStore)
        with store.snapshot():
            assert store.query("SELECT SUM(n) FROM snap") == [(1,)]
            with other.transaction():
                other.execute("INSERT INTO snap VALUES (2)")
            assert store.query("SELECT SUM(n) FROM snap") == [(1,)], "one state throughout"
        assert store.query("SELECT SUM(n) FROM snap") == [(3,)]
    finally:
        other.close()


def test_iter_events_pages_in_time_order(store: Store) -> None:
    did = decision(store)
    rows = [row(store, did, float(t % 7), n=i) for i, t in enumerate(range(40))]
    store.insert_events(rows)
    got = list(store.iter_events("pageviews", batch_size=3))
    assert len(got) == 40
    assert [(e.ts, e.id) for e in got] == sorted((e.ts, e.id) for e in got)
    window = list(store.iter_events("pageviews", since=2.0, before=5.0, batch_size=4))
    assert {e.ts for e in window} == {2.0, 3.0, 4.0}
    assert len(window) == sum(1 for r in rows if 2.0 <= r.ts < 5.0)


def test_retention_primitives(store: Store) -> None:
    did = decision(store)
    store.insert_events(
        [row(store, did, float(t), path="/p", referrer="r.example") for t in range(10)]
    )
    assert store.strip_field("pageviews", "referrer", before=5.0) == 5
    assert store.strip_field("pageviews", "referrer", before=5.0) == 0  # idempotent
    by_ts = {e.ts: e.fields for e in store.iter_events("pageviews")}
    assert by_ts[4.0] == {"path": "/p"}
    assert by_ts[5.0] == {"path": "/p", "referrer": "r.example"}
    assert store.delete_events("pageviews", before=3.0) == 3
    assert store.count_events() == 7
    with pytest.raises(StoreError):
        store.strip_field("pageviews", "x'); DROP TABLE events; --", before=1.0)


def test_correction_updates_one_row(store: Store) -> None:
    did = decision(store)
    store.insert_events(
        [row(store, did, 1.0, "u1", path="/a"), row(store, did, 2.0, "u1", path="/b")]
    )
    first = store.events_for_subject("u1")[0]
    assert store.update_event_fields(first.id, encode_fields({"path": "/fixed"}))
    assert [e.fields["path"] for e in store.events_for_subject("u1")] == ["/fixed", "/b"]
    assert not store.update_event_fields(99_999, "{}")


def test_sites_are_kept_apart(store: Store, other: Store) -> None:
    mine, theirs = decision(store), decision(other)
    store.insert_events([row(store, mine, 1.0, "u1", path="/mine")])
    other.insert_events([row(other, theirs, 1.0, "u1", path="/theirs")])
    assert [e.fields["path"] for e in store.events_for_subject("u1")] == ["/mine"]
    assert [e.fields["path"] for e in other.events_for_subject("u1")] == ["/theirs"]
    assert store.decision(theirs) is None or theirs == mine
    store.upsert_subject(Subject("u1", email="a@x.example", created_at=1.0))
    assert other.get_subject("u1") is None
    assert other.subjects_by_email("a@x.example") == []
    store.put_key("u1", b"k" * 32)
    assert other.get_key("u1") is None
    assert store.ensure_salt("2025-01-01", b"a" * 16) == b"a" * 16
    assert other.ensure_salt("2025-01-01", b"b" * 16) == b"b" * 16
    assert store.delete_subject_events("u1") == 1
    assert [e.fields["path"] for e in other.events_for_subject("u1")] == ["/theirs"]
    assert other.delete_events("pageviews", before=10.0) == 1
    for table in TABLES:
        for r in store.rows(table):
            assert "news.example" in r, table
            assert "other.example" not in r, table
        for r in other.rows(table):
            assert "other.example" in r, table
            assert "news.example" not in r, table


def test_rows_for_another_site_refuse_the_whole_batch(store: Store, other: Store) -> None:
    did = decision(store)
    good = row(store, did, 1.0)
    bad = good._replace(site="other.example")
    with pytest.raises(StoreError, match="nothing of the batch was written"):
        store.insert_events([good, bad])
    assert store.count_events() == 0
    assert other.count_events() == 0


def test_large_batches_keep_every_row_and_its_order(store: Store) -> None:
    did = decision(store)
    # 50 rows go in per statement on SQLite: cover whole statements and a remainder
    rows = [
        EventRow(
            store.site,
            "pageviews",
            1000.0 - i,
            f"u{i % 3}" if i % 4 == 0 else None,
            f"h{i}" if i % 2 else None,
            did,
            encode_fields({"path": f"/{i}", "n": i, "t": HOSTILE}),
        )
        for i in range(123)
    ]
    assert store.insert_events(rows) == 123
    got = sorted(store.iter_events("pageviews"), key=lambda e: e.id)
    assert [(e.ts, e.subject_ref, e.visitor_hash, e.fields) for e in got] == [
        (r.ts, r.subject_ref, r.visitor_hash, json.loads(r.fields)) for r in rows
    ]
    assert store.insert_events([]) == 0


def test_columns_go_in_like_rows(store: Store) -> None:
    did = decision(store)
    n = 77
    datasets = ["pageviews"] * n
    ts = [float(i) for i in range(n)]
    subjects = [f"u{i}" if i % 5 == 0 else None for i in range(n)]
    visitors = [None if i % 2 else f"h{i}" for i in range(n)]
    fields = [encode_fields({"path": HOSTILE, "i": i}) for i in range(n)]
    assert store.insert_columns(datasets, ts, subjects, visitors, [did] * n, fields) == n
    got = sorted(store.iter_events("pageviews"), key=lambda e: e.id)
    assert [(e.ts, e.subject_ref, e.visitor_hash, e.fields) for e in got] == [
        (ts[i], subjects[i], visitors[i], {"path": HOSTILE, "i": i}) for i in range(n)
    ]
    # an empty reference is no reference, on every backend and either way in
    store.insert_events([EventRow(store.site, "pageviews", -2.0, "", "", did, "{}")])
    store.insert_columns(["pageviews"], [-1.0], [""], [""], [did], ["{}"])
    assert [(e.subject_ref, e.visitor_hash) for e in store.iter_events("pageviews")][:2] == [
        (None, None),
        (None, None),
    ]
    n += 2
    with pytest.raises(StoreError, match="different lengths"):
        store.insert_columns(datasets, ts, subjects, visitors, [did] * n, fields[:-1])
    assert store.count_events() == n
    assert store.insert_columns([], [], [], [], [], []) == 0


def test_a_row_of_the_wrong_shape_refuses_the_whole_batch(store: Store) -> None:
    did = decision(store)
    good = [row(store, did, float(i)) for i in range(60)]
    for bad in (good[7][:6], (*good[7], "extra")):
        batch: list[Any] = [*good[:7], bad, *good[8:]]
        with pytest.raises(StoreError, match=r"row 7 has \d values instead of 7"):
            store.insert_events(batch)
    assert store.count_events() == 0


def test_subjects(store: Store) -> None:
    store.upsert_subject(
        Subject(
            "s1",
            email="a@x.example",
            phone="+15551234567",
            email_hash="e1",
            phone_hash="p1",
            created_at=5.0,
        )
    )
    store.upsert_subject(Subject("s2", email="a@x.example", email_hash="e1", created_at=6.0))
    store.upsert_subject(Subject(HOSTILE, email=HOSTILE, created_at=7.0))
    assert store.get_subject("s1") == Subject(
        "s1", "a@x.example", "+15551234567", "e1", "p1", 5.0, None
    )
    assert [s.subject_id for s in store.subjects_by_email("a@x.example")] == ["s1", "s2"]
    assert store.subjects_by_hash("email", ["e1", "zz"]) == {"e1": ["s1", "s2"]}
    assert store.subjects_by_hash("phone", ["p1"]) == {"p1": ["s1"]}
    with pytest.raises(StoreError):
        store.subjects_by_hash("ssn", ["x"])
    many = [f"h{i}" for i in range(1200)] + ["e1"]
    assert store.subjects_by_hash("email", many) == {"e1": ["s1", "s2"]}
    assert store.get_subject(HOSTILE) is not None
    assert store.set_opt_out("s1", 9.0)
    subject = store.get_subject("s1")
    assert subject is not None
    assert subject.opted_out_at == 9.0
    # upsert keeps created_at, updates the rest
    store.upsert_subject(Subject("s1", email="b@x.example", created_at=99.0))
    subject = store.get_subject("s1")
    assert subject is not None
    assert subject.email == "b@x.example"
    assert subject.created_at == 5.0
    assert store.count_subjects() == 3
    assert store.delete_subject("s1")
    assert not store.delete_subject("s1")
    assert not store.set_opt_out("nobody", 1.0)


def test_consents(store: Store) -> None:
    cid = store.add_consent(
        Consent(
            "s1", "exception", ("adnet",), ("targeted-advertising",), granted_at=1.0, source="tpe"
        )
    )
    store.add_consent(Consent("s1", "opt-out", granted_at=2.0))
    store.add_consent(Consent("s2", "consent", ("*",), None, granted_at=3.0))
    got = store.consents_for("s1")
    assert [c.kind for c in got] == ["exception", "opt-out"]
    assert got[0].targets == ("adnet",)
    assert got[0].purposes == ("targeted-advertising",)
    assert got[1].purposes is None
    assert got[1].targets == ()
    assert store.withdraw_consent(cid, 5.0)
    assert not store.withdraw_consent(cid, 6.0)  # once
    assert store.consents_for("s1")[0].withdrawn_at == 5.0
    assert store.delete_consents_for("s1") == 2
    assert store.consents_for("s1") == []
    assert len(store.consents_for("s2")) == 1


def test_rights_requests_and_verification(store: Store) -> None:
    req = RightsRequest(
        "r1",
        "access",
        "gdpr",
        "pending-verification",
        1.0,
        30.0,
        email="a@x.example",
        detail={"a": 1},
    )
    store.create_request(req)
    assert store.get_request("r1") == req
    assert store.update_request(
        "r1", status="verified", verified_at=2.0, subject_ref="s1", detail={"b": [1]}
    )
    got = store.get_request("r1")
    assert got is not None
    assert got.status == "verified"
    assert got.detail == {"b": [1]}
    with pytest.raises(StoreError, match="cannot change"):
        store.update_request("r1", kind="deletion")
    with pytest.raises(StoreError, match="cannot change"):
        store.update_request("r1", **{"status = 'x'; --": 1})
    assert [r.id for r in store.requests_for("s1")] == ["r1"]
    assert [r.id for r in store.open_requests()] == ["r1"]
    store.update_request("r1", status="completed", completed_at=3.0)
    assert store.open_requests() == []
    store.put_verification(Verification("r1", "hash", 100.0))
    assert store.count_attempt("r1") == 1
    assert store.count_attempt("r1") == 2
    assert store.count_attempt("nope") == 0
    assert store.use_verification("r1", 50.0)
    assert not store.use_verification("r1", 51.0)
    v = store.get_verification("r1")
    assert v == Verification("r1", "hash", 100.0, 2, 50.0)
    store.put_verification(Verification("r1", "new", 200.0))  # a new code resets it
    assert store.get_verification("r1") == Verification("r1", "new", 200.0, 0, None)
    assert store.delete_verification("r1")
    assert store.get_verification("r1") is None


def test_evidence_logs(store: Store) -> None:
    a = store.append_audit(AuditEntry(1.0, "request.received", "r1", "portal", {"kind": "access"}))
    b = store.append_audit(AuditEntry(2.0, "retention.purge", None, "system", {}))
    assert b > a
    assert [e.action for e in store.audit_entries()] == ["request.received", "retention.purge"]
    assert [e.id for e in store.audit_entries(request_id="r1")] == [a]
    store.append_purge(PurgeEntry(3.0, "pageviews", 10, 1.0, "10 days"))
    store.append_purge(PurgeEntry(4.0, "pageviews", 2, 1.5, "24 hours", field="referrer"))
    assert [(p.rows, p.field) for p in store.purges("pageviews")] == [(10, None), (2, "referrer")]
    assert store.purges("other") == []


def test_webhook_outbox(store: Store) -> None:
    i = store.enqueue_webhook(
        request_id="r1", recipient="cdn", url="https://cdn.example/d", payload="{}", at=10.0
    )
    assert [x.id for x in store.due_webhooks(10.0)] == [i]
    assert store.due_webhooks(9.0) == []
    assert store.update_webhook(i, attempts=1, next_attempt_at=20.0, last_error="503")
    assert store.due_webhooks(15.0) == []
    assert store.update_webhook(i, status="delivered", delivered_at=21.0)
    assert store.due_webhooks(100.0) == []
    item = store.outbox("r1")[0]
    assert item.status == "delivered"
    assert item.attempts == 1
    assert item.delivered_at == 21.0
    with pytest.raises(StoreError):
        store.update_webhook(i, url="https://evil.example")


def test_drop_items(store: Store) -> None:
    store.record_drop_item(DropItem("email", "id1", 5, 1.0, "b1"))
    store.record_drop_item(DropItem("email", "id1", 3, 2.0, "b2"))
    store.record_drop_item(DropItem("phone", "id2", 4, 2.0, "b2"))
    assert store.drop_items() == [
        DropItem("email", "id1", 3, 2.0, "b2"),
        DropItem("phone", "id2", 4, 2.0, "b2"),
    ]
    assert len(store.drop_items(batch="b1")) == 0


def test_salts(store: Store) -> None:
    assert store.get_salt("2025-01-01") is None
    assert store.ensure_salt("2025-01-01", b"1" * 16) == b"1" * 16
    assert store.ensure_salt("2025-01-01", b"2" * 16) == b"1" * 16
    store.ensure_salt("2025-01-02", b"3" * 16)
    store.ensure_salt("2025-01-03", b"4" * 16)
    assert store.destroy_salts_before("2025-01-03") == 2
    assert store.get_salt("2025-01-01") is None
    assert store.get_salt("2025-01-03") == b"4" * 16


def test_salts_are_race_safe(store_url: str) -> None:
    stores = [open_store(store_url, site="news.example") for _ in range(4)]
    results: list[bytes] = []
    barrier = threading.Barrier(len(stores))

    def worker(s: Store, n: int) -> None:
        barrier.wait()
        results.append(s.ensure_salt("2030-01-01", bytes([n]) * 16))

    threads = [threading.Thread(target=worker, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert len(results) == 4
    assert len(set(results)) == 1


def test_keys(store: Store) -> None:
    assert store.get_key("s1") is None
    store.put_key("s1", b"a" * 32)
    store.put_key("s1", b"b" * 32)  # the first key stays: data sealed with it must stay readable
    assert store.get_key("s1") == b"a" * 32
    assert store.rows("keys")[0][1] == "s1"
    assert store.destroy_key("s1")
    assert not store.destroy_key("s1")
    assert store.get_key("s1") is None
    # The key table is not one of the data tables.
    for table in TABLES:
        assert all(
            b"a" * 32 not in json.dumps([str(c) for c in r]).encode() for r in store.rows(table)
        )


def test_transactions_roll_back(store: Store) -> None:
    did = decision(store)

    def fail_halfway() -> None:
        with store.transaction():
            store.insert_events([row(store, did, 1.0)])
            store.upsert_subject(Subject("s1", created_at=1.0))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert store.count_events() == 0
    assert store.get_subject("s1") is None
    with store.transaction():
        store.insert_events([row(store, did, 1.0)])
    assert store.count_events() == 1


def test_closed_store_and_bad_tables(store_url: str) -> None:
    s = open_store(store_url, site="news.example")
    with pytest.raises(StoreError, match="unknown table"):
        s.rows("sqlite_master")
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        s.count_events()


@pytest.mark.parametrize("site", ["", "a\x00b", "x" * 300, 7])
def test_bad_site_names(store: Store, site: object) -> None:
    with pytest.raises(StoreError, match="site"):
        store.for_site(site)  # type: ignore[arg-type]


def test_hostile_values_do_not_disturb_other_rows(store: Store) -> None:
    did = decision(store)
    store.insert_events([row(store, did, 1.0, "victim", path="/safe")])
    store.insert_events([row(store, did, 2.0, HOSTILE, path=HOSTILE)])
    store.upsert_subject(Subject(HOSTILE, email=HOSTILE, created_at=1.0))
    store.create_request(RightsRequest(HOSTILE, "access", "gdpr", "x", 1.0, 2.0, email=HOSTILE))
    assert [e.fields for e in store.events_for_subject("victim")] == [{"path": "/safe"}]
    assert store.events_for_subject(HOSTILE)[0].fields == {"path": HOSTILE}
    assert store.count_events() == 2
    assert store.delete_subject_events(HOSTILE) == 1
    assert store.count_events() == 1


def test_store_serves_ledger_b_key_and_salt_protocols(store: Store) -> None:
    from trackpref.ledger.crypto import FieldCipher, KeyStore
    from trackpref.ledger.salts import SaltStore, VisitorHasher

    assert isinstance(store, KeyStore)
    assert isinstance(store, SaltStore)
    cipher = FieldCipher(store, site=store.site)
    token = cipher.seal("s1", "subscriptions", "email", "a@mail.example")
    assert cipher.unseal("s1", "subscriptions", "email", token) == "a@mail.example"
    t = 1_750_000_000.0
    hasher = VisitorHasher(store, clock=lambda: t)
    h = hasher.visitor_hash(store.site, "192.0.2.1", "UA")
    assert h == VisitorHasher(store, clock=lambda: t).visitor_hash(store.site, "192.0.2.1", "UA")
    assert hasher.rotate(t + 3 * 86400) >= 1


def test_datasets_are_this_sites_only(store: Store, other: Store) -> None:
    assert store.datasets() == []
    did = decision(store)
    store.insert_events(
        [EventRow(store.site, ds, 1.0, None, None, did, "{}") for ds in ("b_x", "a", "bx", "a")]
    )
    other.insert_events([EventRow(other.site, "zz", 1.0, None, None, decision(other), "{}")])
    assert store.datasets() == ["a", "b_x", "bx"]
    assert other.datasets() == ["zz"]


def test_scrub_deleted_finishes_what_deletions_left(store: Store) -> None:
    did = decision(store)
    store.insert_events([row(store, did, float(i), "u1") for i in range(10)])
    store.upsert_subject(Subject("u1", email="u1@mail.example", created_at=1.0))
    assert not store.scrub_pending, "inserts leave nothing to scrub"
    assert store.delete_events("pageviews", before=5.0) == 5
    with store.transaction():
        assert store.delete_subject_events("u1") == 5
        assert store.delete_subject("u1")
    assert store.scrub_deleted() is True
    assert not store.scrub_pending
    assert store.delete_events("pageviews", before=5.0) == 0
    assert not store.scrub_pending, "a deletion that deleted nothing leaves nothing"
    assert store.scrub_deleted() is True
