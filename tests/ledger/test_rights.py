from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_loopback import WebhookServer

from trackpref.ledger import Event, Ledger, Sealer
from trackpref.ledger.crypto import (
    CryptoError,
    FieldCipher,
    KeyDestroyed,
    MemoryKeyStore,
    SQLiteKeyStore,
)
from trackpref.ledger.drop import hash_identifier
from trackpref.ledger.inventory import Inventory, parse_inventory
from trackpref.ledger.mailer import FileOutbox
from trackpref.ledger.rights import UNVERIFIED_TTL, DataRights, RightsError
from trackpref.ledger.storage import TABLES, Store, open_store
from trackpref.ledger.storage.sqlite import SQLiteStore
from trackpref.ledger.verification import VerificationError
from trackpref.ledger.webhooks import WebhookDispatcher
from trackpref.signals import resolve_headers

EXAMPLE = resources.files("trackpref").joinpath("examples", "inventory.toml").read_text()
DNT0 = resolve_headers("0", None)
DNT1 = resolve_headers("1", None)
DAY = 86400.0

ALICE = {
    "id": "alice-1",
    "email": "Alice.Example@Mail.example ",
    "phone": "(555) 010-4477",
    "cookie": "ck-alice-93f1",
    "ad_cookie": "ad-alice-77aa",
    "sub_email": "alice.news@mail.example",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """A site with a ledger, rights desk, outbox and webhook receiver."""

    def __init__(self, store: Store, tmp: Path, hook_url: str) -> None:
        self.clock = Clock()
        self.store = store
        text = EXAMPLE.replace("https://cdn.example/privacy/delete", f"{hook_url}/cdn").replace(
            "https://ads.example/dsar/delete", f"{hook_url}/ads"
        )
        self.inventory: Inventory = parse_inventory(text)
        self.cipher = FieldCipher(store, site=store.site)
        self.ledger = Ledger(self.inventory, store, clock=self.clock, sealer=self.cipher)
        self.outbox = FileOutbox(tmp / "mail")
        self.hooks = WebhookDispatcher(
            self.inventory, store, {"cdn": b"cdn-secret", "adnet": b"ads-secret"}, clock=self.clock
        )
        self.rights = DataRights(
            self.inventory,
            store,
            mailer=self.outbox,
            sealer=self.cipher,
            webhooks=self.hooks,
            clock=self.clock,
        )

    def last_code(self) -> str:
        body = self.outbox.messages()[-1].get_content()
        m = re.search(r"Your code: (\d+)", body)
        assert m is not None
        return m.group(1)

    def populate(self, person: dict[str, str], *, n: int = 3) -> None:
        sid = person["id"]
        self.rights.register_subject(sid, email=person["email"], phone=person["phone"])
        events = []
        for i in range(n):
            events.append(
                Event(
                    "pageviews",
                    {
                        "path": f"/{sid}/{i}",
                        "referrer_host": "search.example",
                        "country": "FR",
                        "visitor_id": person["cookie"],
                        "load_ms": 100 + i,
                    },
                    DNT0,
                    sid,
                    f"vh-{sid}-{i}",
                )
            )
            events.append(
                Event(
                    "ad_events",
                    {"ad_id": f"ad{i}", "event": "click", "ad_cookie": person["ad_cookie"]},
                    DNT0,
                    sid,
                )
            )
        events.append(
            Event(
                "subscriptions",
                {"email": person["sub_email"], "topics": "science", "consent_text_version": 2},
                DNT0,
                sid,
            )
        )
        result = self.ledger.record_many(events)
        assert result.stored == len(events), result.as_dict()
        self.rights.record_consent(
            sid,
            kind="exception",
            targets=("adnet",),
            purposes=("targeted-advertising",),
            source="tpe",
        )


BOB = {
    "id": "bob-2",
    "email": "bob@mail.example",
    "phone": "+44 20 7946 0018",
    "cookie": "ck-bob",
    "ad_cookie": "ad-bob",
    "sub_email": "bob.news@mail.example",
}


@pytest.fixture
def world(store: Store, tmp_path: Path, webhook_server: WebhookServer) -> World:
    w = World(store, tmp_path, webhook_server.url)
    w.populate(ALICE)
    w.populate(BOB)
    return w


def verified(world: World, kind: str, email: str, regime: str = "gdpr") -> str:
    req = world.rights.open_request(kind, email, regime=regime)
    world.rights.verify(req.id, world.last_code())
    return req.id


# -- access ------------------------------------------------------------------------


def test_access_export_is_complete(world: World) -> None:
    rid = verified(world, "access", "  ALICE.example@mail.example")
    answer = world.rights.fulfil(rid)
    assert json.loads(json.dumps(answer)) == answer  # machine-readable
    [export] = answer["subjects"]
    assert export["subject"]["id"] == "alice-1"
    assert export["subject"]["email"] == "alice.example@mail.example"
    assert export["subject"]["phone"] == "15550104477"
    held = world.store.events_for_subject("alice-1")
    assert set(export["datasets"]) == {e.dataset for e in held}
    for name, section in export["datasets"].items():
        declared = set(world.inventory.datasets[name].fields)
        assert set(section["fields"]) == declared
        records = section["records"]
        assert len(records) == sum(1 for e in held if e.dataset == name)
        for record in records:
            assert set(record["fields"]) == declared  # every declared field, null if not held
    subs = export["datasets"]["subscriptions"]["records"][0]["fields"]
    assert subs["email"] == ALICE["sub_email"]  # sealed at rest, readable in the export
    pv = export["datasets"]["pageviews"]["records"]
    assert {r["fields"]["visitor_id"] for r in pv} == {ALICE["cookie"]}
    assert all(r["recipients"] == ["cdn"] for r in pv)
    assert [c["kind"] for c in export["consents"]] == ["exception"]
    assert export["consents"][0]["targets"] == ["adnet"]
    assert [r["kind"] for r in export["requests"]] == ["access"]
    assert {r["id"] for r in export["recipients"]} == {"cdn", "adnet"}
    assert "bob" not in json.dumps(export).lower()
    req = world.store.get_request(rid)
    assert req is not None
    assert req.status == "completed"
    actions = [e.action for e in world.store.audit_entries(request_id=rid)]
    assert actions == [
        "request.received",
        "verification.sent",
        "verification.succeeded",
        "request.completed",
    ]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["/a", "/b", "/<x>", "/'; DROP"]),
            st.one_of(st.none(), st.sampled_from(["DE", "US"])),
            st.one_of(st.none(), st.integers(0, 600_000)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_property_export_holds_every_stored_value(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str | None, int | None]]
) -> None:
    tmp = tmp_path_factory.mktemp("p")
    store = open_store(tmp / "l.db", site="news.example")
    try:
        w = World(store, tmp, "http://127.0.0.1:9")
        w.rights.register_subject("s", email="s@mail.example")
        for path, country, ms in rows:
            fields: dict[str, object] = {"path": path}
            if country is not None:
                fields["country"] = country
            if ms is not None:
                fields["load_ms"] = ms
            w.ledger.record("pageviews", fields, DNT0, subject="s")
        export = w.rights.export("s")
        records = export["datasets"]["pageviews"]["records"]
        assert len(records) == len(rows)
        for e, r in zip(store.events_for_subject("s"), records, strict=True):
            for name, value in e.fields.items():
                assert r["fields"][name] == value
    finally:
        store.close()


# -- deletion ------------------------------------------------------------------------


def linkable_values(person: dict[str, str]) -> set[str]:
    email = person["email"].strip().lower()
    return {
        person["id"],
        email,
        person["cookie"],
        person["ad_cookie"],
        person["sub_email"],
        hash_identifier("email", person["email"]),
        hash_identifier("phone", person["phone"]),
        "15550104477",
        f"vh-{person['id']}",
    }


def scan(store: Store, needles: set[str]) -> list[tuple[str, str]]:
    found = []
    for table in (*TABLES, "keys"):
        for row in store.rows(table):
            text = json.dumps(
                [c.hex() if isinstance(c, bytes | memoryview) else str(c) for c in row]
            )
            for n in needles:
                if n in text:
                    found.append((table, n))
    return found


def test_deletion_is_complete(world: World, webhook_server: WebhookServer) -> None:
    # some earlier history: a completed access request
    world.rights.fulfil(verified(world, "access", ALICE["email"]))
    before = scan(world.store, linkable_values(ALICE))
    assert before  # the scan does find Alice before the deletion
    backup = {t: world.store.rows(t) for t in TABLES}
    sealed = next(
        e.fields["email"]
        for e in world.store.events_for_subject("alice-1")
        if e.dataset == "subscriptions"
    )
    rid = verified(world, "deletion", ALICE["email"], regime="ccpa")
    answer = world.rights.fulfil(rid)
    [report] = answer["deleted"]
    assert report["events"] == 7
    assert report["key_destroyed"] is True
    assert report["webhooks"] == 2
    assert world.hooks.deliver_due().delivered == 2
    assert {r.path for r in webhook_server.received} == {"/cdn", "/ads"}
    # Nothing linkable to Alice is left in any table, the key store included.
    assert scan(world.store, linkable_values(ALICE)) == []
    # Bob is untouched.
    assert len(world.store.events_for_subject("bob-2")) == 7
    assert scan(world.store, {"bob-2", BOB["cookie"]})
    # A copy taken before the deletion no longer decrypts her sensitive fields.
    assert any(sealed in json.dumps([str(c) for c in r]) for r in backup["events"])
    with pytest.raises(CryptoError):
        world.cipher.unseal("alice-1", "subscriptions", "email", sealed)
    # The evidence remains, without identity.
    req = world.store.get_request(rid)
    assert req is not None
    assert (req.status, req.email, req.subject_ref) == ("completed", None, None)
    assert "subject.deleted" in [e.action for e in world.store.audit_entries(request_id=rid)]


def test_sqlite_backup_file_is_unreadable_after_deletion(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    store = open_store(tmp_path / "live.db", site="news.example")
    try:
        w = World(store, tmp_path, webhook_server.url)
        w.populate(ALICE)
        assert isinstance(store, SQLiteStore)
        backup_path = tmp_path / "backup.db"
        src = sqlite3.connect(store.path)
        dst = sqlite3.connect(backup_path)
        src.backup(dst)  # a real backup of the data file (the key file is not part of it)
        src.close()
        dst.close()
        w.rights.delete("alice-1")
        # Restore the backup next to the live key file: the data is back, the key is not.
        restored_dir = tmp_path / "restored"
        restored_dir.mkdir()
        shutil.copy(backup_path, restored_dir / "r.db")
        restored = open_store(restored_dir / "r.db", site="news.example", keys=store.keys_path)
        try:
            [sub] = [
                e for e in restored.events_for_subject("alice-1") if e.dataset == "subscriptions"
            ]
            cipher = FieldCipher(restored, site="news.example")
            with pytest.raises(CryptoError):
                cipher.unseal("alice-1", "subscriptions", "email", sub.fields["email"])
            assert ALICE["sub_email"] not in json.dumps(
                [str(c) for r in restored.rows("events") for c in r]
            )
        finally:
            restored.close()
    finally:
        store.close()


class SealOnly:
    """A sealer with only the ``Sealer`` protocol's two methods: it cannot shred."""

    def __init__(self, cipher: FieldCipher) -> None:
        self.cipher = cipher

    def seal(self, subject_id: str, dataset: str, field: str, value: object) -> str:
        return self.cipher.seal(subject_id, dataset, field, value)

    def unseal(self, subject_id: str, dataset: str, field: str, token: str) -> object:
        return self.cipher.unseal(subject_id, dataset, field, token)


def desk(store: Store, tmp: Path, sealer: Sealer) -> tuple[Ledger, DataRights, FileOutbox, Clock]:
    """A ledger and rights desk sharing ``sealer`` (no webhooks)."""
    clock = Clock()
    inventory = parse_inventory(EXAMPLE)
    outbox = FileOutbox(tmp / "mail")
    ledger = Ledger(inventory, store, clock=clock, sealer=sealer)
    rights = DataRights(inventory, store, mailer=outbox, sealer=sealer, clock=clock)
    return ledger, rights, outbox, clock


def code_in(outbox: FileOutbox) -> str:
    m = re.search(r"Your code: (\d+)", outbox.messages()[-1].get_content())
    assert m is not None
    return m.group(1)


def subscribe(ledger: Ledger, rights: DataRights, sid: str, email: str) -> str:
    """Register ``sid`` with a sealed subscription; returns the sealed token (a backup's copy)."""
    rights.register_subject(sid, email=email)
    ledger.record("subscriptions", {"email": email, "topics": "t"}, DNT0, subject=sid)
    [event] = [e for e in ledger.store.events_for_subject(sid) if e.dataset == "subscriptions"]
    token = event.fields["email"]
    assert isinstance(token, str)
    assert email not in token
    return token


def test_deletion_destroys_the_key_in_the_sealers_own_key_store(
    store: Store, tmp_path: Path
) -> None:
    # The setup docs/deidentification.md shows: keys in their own file, not in the store.
    keys = SQLiteKeyStore(tmp_path / "separate.keys")
    try:
        cipher = FieldCipher(keys, site=store.site)
        ledger, rights, outbox, _ = desk(store, tmp_path, cipher)
        token = subscribe(ledger, rights, "s1", "v@mail.example")
        assert store.get_key("s1") is None  # the store never held this key
        req = rights.open_request("deletion", "v@mail.example")
        rights.verify(req.id, code_in(outbox))
        [report] = rights.fulfil(req.id)["deleted"]
        assert report["key_destroyed"] is True
        assert len(keys) == 0
        with pytest.raises(KeyDestroyed):  # the backup's copy is unreadable
            cipher.unseal("s1", "subscriptions", "email", token)
        done = store.get_request(req.id)
        assert done is not None
        assert done.status == "completed"
    finally:
        keys.close()


def test_deletion_is_not_completed_while_sealed_data_stays_readable(
    store: Store, tmp_path: Path
) -> None:
    cipher = FieldCipher(MemoryKeyStore(), site=store.site)
    ledger, rights, outbox, _ = desk(store, tmp_path, SealOnly(cipher))
    token = subscribe(ledger, rights, "s1", "v@mail.example")
    req = rights.open_request("deletion", "v@mail.example")
    rights.verify(req.id, code_in(outbox))
    with pytest.raises(RightsError, match="still readable") as info:
        rights.fulfil(req.id)
    assert info.value.field == "key"
    # Not reported as done, and nothing deleted: a retry still knows the key must go.
    pending = store.get_request(req.id)
    assert pending is not None
    assert pending.status == "verified"
    assert "still readable" in pending.detail["error"]
    assert [r.id for r in rights.open_requests()] == [req.id]
    assert len(store.events_for_subject("s1")) == 1
    actions = [e.action for e in store.audit_entries(request_id=req.id)]
    assert "subject.deletion-failed" in actions
    assert "request.completed" not in actions
    # Once the key is gone (here by hand), running the deletion again finishes the job.
    assert cipher.shred("s1")
    [report] = rights.fulfil(req.id)["deleted"]
    assert report["events"] == 1
    assert report["key_destroyed"] is False  # it was already gone, which is what matters
    with pytest.raises(KeyDestroyed):
        cipher.unseal("s1", "subscriptions", "email", token)
    done = store.get_request(req.id)
    assert done is not None
    assert (done.status, done.email, done.detail) == ("completed", None, {})


def test_deletion_scrubs_every_request_made_under_the_address(world: World) -> None:
    email = ALICE["email"].strip().lower()
    world.rights.register_subject("alice-3", email=email)  # a second account, same address
    world.ledger.record("pageviews", {"path": "/x"}, DNT0, subject="alice-3")
    earlier = verified(world, "access", ALICE["email"])
    world.rights.fulfil(earlier)
    abandoned = world.rights.open_request("opt-out", "  ALICE.example@MAIL.example")
    other = world.rights.open_request("access", BOB["email"])  # someone else's, untouched
    rid = verified(world, "deletion", ALICE["email"])
    answer = world.rights.fulfil(rid)
    assert {d["events"] for d in answer["deleted"]} == {7, 1}
    left = [r for r in world.store.rows("rights_requests") if r[1] != other.id]
    assert len(left) == 3
    assert email not in json.dumps([str(c) for r in left for c in r])
    assert [v[1] for v in world.store.rows("verifications")] == [other.id]
    closed = world.store.get_request(abandoned.id)
    assert closed is not None
    assert (closed.status, closed.email, closed.detail) == ("rejected", None, {})
    assert [r.id for r in world.rights.open_requests()] == [other.id]
    reasons = [e.detail for e in world.store.audit_entries(request_id=abandoned.id)]
    assert {"reason": "superseded: the person's data was deleted"} in reasons
    world.hooks.deliver_due()  # the payloads are scrubbed once delivered
    assert scan(world.store, {email, "alice-1", "alice-3"}) == []
    kept = world.store.get_request(other.id)
    assert kept is not None
    assert kept.email == BOB["email"]


def test_direct_deletion_scrubs_requests_under_the_address(world: World) -> None:
    # DROP and account pages call delete() without a request of their own.
    pending = world.rights.open_request("access", ALICE["email"])
    world.rights.delete("alice-1", reason="DROP")
    closed = world.store.get_request(pending.id)
    assert closed is not None
    assert (closed.status, closed.email) == ("rejected", None)
    assert world.store.get_verification(pending.id) is None


def test_a_deletion_for_an_unknown_address_scrubs_its_requests(world: World) -> None:
    pending = world.rights.open_request("access", "nobody@mail.example")
    rid = verified(world, "deletion", "nobody@mail.example")
    assert world.rights.fulfil(rid)["deleted"] == []
    closed = world.store.get_request(pending.id)
    assert closed is not None
    assert (closed.status, closed.email) == ("rejected", None)
    assert world.store.rows("verifications") == []


def test_unverified_requests_expire(world: World) -> None:
    ttl = UNVERIFIED_TTL.min_seconds
    assert ttl == DAY
    req = world.rights.open_request("opt-out", ALICE["email"], detail={"claim": "browser-1"})
    world.clock.now += ttl - 60
    world.rights.resend_code(req.id)  # still allowed
    assert world.rights.expire_requests() == 0
    world.clock.now += 60
    assert world.rights.expire_requests() == 1
    assert world.rights.expire_requests() == 0  # done once
    gone = world.store.get_request(req.id)
    assert gone is not None
    assert (gone.status, gone.email, gone.subject_ref, gone.detail) == (
        "expired",
        None,
        None,
        {},
    )
    assert gone.completed_at == world.clock.now
    assert world.store.rows("verifications") == []
    assert world.rights.open_requests() == []
    assert "request.expired" in [e.action for e in world.store.audit_entries(request_id=req.id)]
    with pytest.raises(RightsError, match="expired"):
        world.rights.verify(req.id, world.last_code())


def test_expiry_leaves_verified_and_recent_requests_alone(world: World) -> None:
    fresh = world.rights.open_request("access", ALICE["email"])
    world.clock.now += DAY / 2
    waiting = verified(world, "access", BOB["email"])  # verified: kept until answered
    world.clock.now += DAY
    assert world.rights.expire_requests(world.clock.now - DAY / 2 - 1) == 0  # an explicit now
    assert world.rights.expire_requests() == 1
    assert {r.id for r in world.rights.open_requests()} == {waiting}
    expired = world.store.get_request(fresh.id)
    assert expired is not None
    assert expired.status == "expired"


def test_a_late_code_cannot_verify_an_expired_request(world: World) -> None:
    # Expiry does not wait for the scheduled job, and a new code does not extend it.
    req = world.rights.open_request("deletion", ALICE["email"])
    world.clock.now += DAY - 60
    world.rights.resend_code(req.id)
    world.clock.now += 120  # the code still works; the request it belongs to does not
    with pytest.raises(RightsError, match="expired") as info:
        world.rights.verify(req.id, world.last_code())
    assert info.value.field == "request_id"
    gone = world.store.get_request(req.id)
    assert gone is not None
    assert (gone.status, gone.email) == ("expired", None)
    with pytest.raises(RightsError):
        world.rights.resend_code(req.id)
    assert world.store.get_subject("alice-1") is not None


@pytest.mark.parametrize("kind", ["access", "correction", "opt-out"])
def test_completed_requests_forget_the_address(world: World, kind: str) -> None:
    rid = verified(world, kind, ALICE["email"])
    corrections: list[Mapping[str, Any]] = [
        {"dataset": "pageviews", "field": "country", "value": "BE"}
    ]
    world.rights.fulfil(rid, corrections=corrections if kind == "correction" else None)
    done = world.store.get_request(rid)
    assert done is not None
    assert (done.status, done.email, done.subject_ref) == ("completed", None, "alice-1")
    assert ALICE["email"].strip().lower() not in json.dumps(
        [str(c) for r in world.store.rows("rights_requests") for c in r]
    )
    # The link stays, so the person's export still lists the request.
    assert rid in [r["id"] for r in world.rights.export("alice-1")["requests"]]


def test_unverified_ttl_outlives_the_code(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unverified_ttl"):
        DataRights(
            parse_inventory(EXAMPLE), store, mailer=FileOutbox(tmp_path), unverified_ttl=60.0
        )


# -- correction, opt-out ---------------------------------------------------------------


def test_correction(world: World) -> None:
    rid = verified(world, "correction", ALICE["email"])
    with pytest.raises(RightsError, match="at least one change"):
        world.rights.fulfil(rid)
    with pytest.raises(RightsError) as info:
        world.rights.fulfil(
            rid, corrections=[{"dataset": "pageviews", "field": "country", "value": "FRA"}]
        )
    assert info.value.field == "pageviews.country"
    answer = world.rights.fulfil(
        rid,
        corrections=[
            {"dataset": "pageviews", "field": "country", "value": "BE"},
            {"dataset": "subscriptions", "field": "email", "value": "new@mail.example"},
        ],
    )
    assert answer["changed"] == 4
    export = world.rights.export("alice-1")
    assert {r["fields"]["country"] for r in export["datasets"]["pageviews"]["records"]} == {"BE"}
    assert (
        export["datasets"]["subscriptions"]["records"][0]["fields"]["email"] == "new@mail.example"
    )
    raw = world.store.events_for_subject("alice-1")
    assert "new@mail.example" not in json.dumps([e.fields for e in raw])  # re-sealed
    assert {
        e.fields["country"]
        for e in world.store.events_for_subject("bob-2")
        if "country" in e.fields
    } == {"FR"}


def test_profile_correction_updates_hashes(world: World) -> None:
    world.rights.correct_profile("alice-1", email="alice@new.example")
    subject = world.store.get_subject("alice-1")
    assert subject is not None
    assert subject.email_hash == hash_identifier("email", "alice@new.example")


def test_opt_out(world: World, webhook_server: WebhookServer) -> None:
    rid = verified(world, "opt-out", ALICE["email"], regime="ccpa")
    assert world.rights.fulfil(rid)["opted_out"] == 1
    assert world.rights.is_opted_out("alice-1")
    assert not world.rights.is_opted_out("bob-2")
    assert world.hooks.deliver_due().delivered == 1
    assert [r.path for r in webhook_server.received] == ["/ads"]  # third parties only
    # Later writes treat her as if she sent GPC: nothing goes to the ad network.
    pref = world.rights.effective_preference("alice-1", DNT0)
    assert pref.state.value == "do-not-track"
    a = world.ledger.record(
        "ad_events", {"ad_id": "x", "event": "view", "ad_cookie": "c"}, pref, subject="alice-1"
    )
    assert a.record is not None
    assert a.record.recipients == ()
    assert world.rights.effective_preference("bob-2", DNT0) is DNT0
    assert world.rights.effective_preference(None, DNT0) is DNT0
    kinds = [c["kind"] for c in world.rights.export("alice-1")["consents"]]
    assert kinds == ["exception", "opt-out"]


# -- the request lifecycle ----------------------------------------------------------------


def test_unknown_people_get_a_code_and_an_empty_answer(world: World) -> None:
    rid = verified(world, "access", "nobody@mail.example")
    assert world.rights.fulfil(rid) == {"request_id": rid, "kind": "access", "subjects": []}


def test_deadlines(world: World) -> None:
    gdpr = world.rights.open_request("access", ALICE["email"], regime="gdpr")
    ccpa = world.rights.open_request("deletion", ALICE["email"], regime="ccpa")
    assert gdpr.due_at == gdpr.received_at + 30 * DAY
    assert ccpa.due_at == ccpa.received_at + 45 * DAY
    assert [r.id for r in world.rights.open_requests()] == [gdpr.id, ccpa.id]
    assert world.rights.overdue() == []
    world.clock.now += 31 * DAY
    assert [r.id for r in world.rights.overdue()] == [gdpr.id]
    world.clock.now += 15 * DAY
    assert {r.id for r in world.rights.overdue()} == {gdpr.id, ccpa.id}


def test_requests_need_verification_and_valid_input(world: World) -> None:
    req = world.rights.open_request("deletion", ALICE["email"])
    with pytest.raises(RightsError, match="verified first"):
        world.rights.fulfil(req.id)
    with pytest.raises(VerificationError):
        world.rights.verify(req.id, "000000" if world.last_code() != "000000" else "111111")
    assert world.store.get_subject("alice-1") is not None
    assert "verification.failed" in [e.action for e in world.store.audit_entries(request_id=req.id)]
    with pytest.raises(RightsError) as info:
        world.rights.open_request("access", "not an address")
    assert info.value.field == "email"
    with pytest.raises(RightsError) as info:
        world.rights.open_request("erase-everything", ALICE["email"])
    assert info.value.field == "kind"
    with pytest.raises(RightsError) as info:
        world.rights.open_request("access", ALICE["email"], regime="lgpd")
    assert info.value.field == "regime"
    with pytest.raises(RightsError, match="no such request"):
        world.rights.verify("nope", "123456")
    world.rights.resend_code(req.id)
    world.rights.verify(req.id, world.last_code())
    with pytest.raises(RightsError, match="verified"):
        world.rights.verify(req.id, world.last_code())
    world.rights.reject(req.id, "duplicate")
    rejected = world.store.get_request(req.id)
    assert rejected is not None
    assert (rejected.status, rejected.email) == ("rejected", None)


def test_register_subject_validates(world: World) -> None:
    with pytest.raises(RightsError) as info:
        world.rights.register_subject("x", email="no-at-sign")
    assert info.value.field == "email"
    with pytest.raises(RightsError) as info:
        world.rights.register_subject("x", phone="12")
    assert info.value.field == "phone"
    with pytest.raises(RightsError) as info:
        world.rights.register_subject("", email="a@b.example")
    assert info.value.field == "subject_id"
    with pytest.raises(RightsError) as info:
        world.rights.record_consent("x", kind="forever")
    assert info.value.field == "kind"


def test_requests_need_a_mailer(store: Store) -> None:
    rights = DataRights(parse_inventory(EXAMPLE), store)
    with pytest.raises(RightsError, match="no mailer") as info:
        rights.open_request("access", "a@mail.example")
    assert info.value.field == "mailer"
    assert store.audit_entries() == []
    assert store.open_requests() == []
