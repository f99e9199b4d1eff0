"""The Ledger front door: gate, seal, store (on both backends)."""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackpref.ledger import Event, Ledger, LedgerError
from trackpref.ledger.crypto import FieldCipher
from trackpref.ledger.gate import GateError
from trackpref.ledger.inventory import Inventory, load_inventory, parse_inventory
from trackpref.ledger.storage import TABLES, Store, open_store
from trackpref.signals import (
    Preference,
    PreferenceState,
    parse_dnt,
    parse_gpc,
    resolve,
    resolve_headers,
)

EXAMPLE = str(resources.files("trackpref").joinpath("examples", "inventory.toml"))
INV = load_inventory(EXAMPLE)
NOW = 1_750_000_000.0
DNT1 = resolve_headers("1", None)
DNT0 = resolve_headers("0", None)
PAGEVIEW = {
    "path": "/n/1",
    "referrer_host": "s.example",
    "country": "DE",
    "visitor_id": "c-9",
    "load_ms": 5,
}


def ledger_for(store: Store, inventory: Inventory = INV) -> Ledger:
    return Ledger(inventory, store, clock=lambda: NOW, sealer=FieldCipher(store, site=store.site))


def test_record_stores_what_the_gate_admits(store: Store) -> None:
    ledger = ledger_for(store)
    a = ledger.record("pageviews", PAGEVIEW, DNT1, subject="u1", visitor_hash="h1")
    assert a.record is not None
    [event] = list(store.iter_events("pageviews"))
    assert event.subject_ref is None
    assert event.visitor_hash is None
    assert event.fields == {k: v for k, v in PAGEVIEW.items() if k != "visitor_id"}
    assert event.preference == "do-not-track"
    assert event.recipients == ("cdn",)
    stored = store.decision(event.decision_id)
    assert stored is not None
    assert stored["explanation"] == a.explanation.as_dict()
    # the same shape reuses the stored explanation
    ledger.record("pageviews", PAGEVIEW, resolve_headers("1", None))
    assert len({e.decision_id for e in store.iter_events("pageviews")}) == 1


def test_record_many_reports_refusals_and_stores_the_rest(store: Store) -> None:
    ledger = ledger_for(store)
    events = [
        Event("pageviews", dict(PAGEVIEW), DNT0, None, "h1"),
        Event("pageviews", {**PAGEVIEW, "evil": "x"}, DNT0),
        Event("pageviews", {**PAGEVIEW, "path": "/a\x00"}, DNT1),
        Event("nope", {}, DNT1),
        Event("pageviews", dict(PAGEVIEW), DNT1, "u2", "h2", None, NOW - 10),
        Event("pageviews", dict(PAGEVIEW), DNT1, ts=NOW + 3600),
    ]
    result = ledger.record_many(events)
    assert result.stored == 2
    assert [(i, e.field) for i, e in result.refused] == [
        (1, "pageviews.evil"),
        (2, "pageviews.path"),
        (3, "dataset"),
        (5, "ts"),
    ]
    doc = result.as_dict()
    assert doc["refused"][0] == {"index": 1, **result.refused[0][1].as_dict()}
    rows = sorted(store.iter_events("pageviews"), key=lambda e: e.ts)
    assert [(e.ts, e.subject_ref, e.visitor_hash) for e in rows] == [
        (NOW - 10, None, None),
        (NOW, None, "h1"),
    ]
    assert rows[1].fields["visitor_id"] == "c-9"


def test_record_many_stores_in_batch_order(store: Store) -> None:
    """Sealed, refused, withheld and plain events mixed: rows keep the batch's order."""
    text = Path(EXAMPLE).read_text()
    inventory = parse_inventory(
        text
        + """
[purposes.upsell]
description = "Suggesting other products: not a permitted use, so nothing under DNT"
[datasets.offers]
purposes = ["upsell"]
legal_basis = "consent"
[datasets.offers.fields.ad_id]
category = "system.operations"
"""
    )
    ledger = ledger_for(store, inventory)
    events: list[Event] = []
    for i in range(60):
        if i % 10 == 3:
            events.append(Event("subscriptions", {"email": f"s{i}@mail.example"}, DNT0, f"s{i}"))
        elif i % 10 == 5:
            events.append(Event("pageviews", {"path": 5}, DNT0))
        elif i % 10 == 7:
            events.append(Event("offers", {"ad_id": f"a{i}"}, DNT1))
        else:
            events.append(Event("pageviews", {"path": f"/{i}"}, DNT0 if i % 2 else DNT1))
    result = ledger.record_many(iter(events))  # any iterable
    assert [i for i, _ in result.refused] == [i for i in range(60) if i % 10 == 5]
    stored = [i for i in range(60) if i % 10 not in (5, 7)]
    withheld = 60 - len(stored) - len(result.refused)
    assert (result.stored, result.withheld) == (len(stored), withheld)
    rows = sorted(
        [*store.iter_events("pageviews"), *store.iter_events("subscriptions")],
        key=lambda e: e.id,
    )
    assert [e.fields.get("path") or e.subject_ref for e in rows] == [
        f"/{i}" if i % 10 != 3 else f"s{i}" for i in stored
    ]
    assert len({e.ts for e in rows if e.dataset == "pageviews"}) == 1  # one time per batch


def test_record_rows_is_all_or_nothing(store: Store) -> None:
    ledger = ledger_for(store)
    rows: list[dict[str, object]] = [{"path": f"/{i}"} for i in range(10)]
    assert ledger.record_rows("pageviews", rows, DNT1) == 10
    rows[7] = {"path": 7}
    with pytest.raises(GateError, match="row 7"):
        ledger.record_rows("pageviews", rows, DNT1)
    assert store.count_events() == 10


def test_sensitive_fields_are_sealed(store: Store) -> None:
    ledger = ledger_for(store)
    sub = {"email": "alice@mail.example", "topics": "science"}
    ledger.record("subscriptions", sub, DNT0, subject="alice")
    batch = ledger.record_many([Event("subscriptions", {"email": "bob@mail.example"}, DNT0, "bob")])
    assert batch.stored == 1
    for table in TABLES:
        dump = json.dumps([[str(c) for c in r] for r in store.rows(table)])
        assert "alice@mail.example" not in dump
        assert "bob@mail.example" not in dump
    [event] = store.events_for_subject("alice")
    cipher = FieldCipher(store, site=store.site)
    assert (
        cipher.unseal("alice", "subscriptions", "email", event.fields["email"])
        == "alice@mail.example"
    )
    assert event.fields["topics"] == "science"


def test_a_value_the_sealer_refuses_is_that_events_refusal_alone(store: Store) -> None:
    from trackpref.ledger.crypto import CryptoError

    class Picky(FieldCipher):
        def seal(self, subject_id: str, dataset: str, field: str, value: object) -> str:
            if value == "refuse@mail.example":
                raise CryptoError(f"{dataset}.{field}: value cannot be sealed")
            return super().seal(subject_id, dataset, field, value)

    ledger = Ledger(INV, store, clock=lambda: NOW, sealer=Picky(store, site=store.site))
    batch = [
        Event("subscriptions", {"email": f"{name}@mail.example"}, DNT0, name)
        for name in ("a", "refuse", "b")
    ]
    result = ledger.record_many(batch)
    assert result.stored == 2
    [(index, error)] = result.refused
    assert index == 1
    assert "cannot be sealed" in str(error)
    assert store.count_events() == 2


def test_sensitive_fields_without_a_sealer_are_refused(store: Store) -> None:
    ledger = Ledger(INV, store, clock=lambda: NOW)
    with pytest.raises(LedgerError, match="need a sealer"):
        ledger.record("subscriptions", {"email": "a@b.example"}, DNT0, subject="s")
    with pytest.raises(LedgerError, match="need a sealer"):
        ledger.record_many([Event("subscriptions", {"email": "a@b.example"}, DNT0, "s")])
    assert store.count_events() == 0
    # without sensitive values, nothing needs sealing
    ledger.record("subscriptions", {"email": "a@b.example"}, DNT1, subject="s")
    assert store.count_events() == 1


headers = st.one_of(st.none(), st.sampled_from(["0", "1", "2", "1;x"]))
prefs = st.builds(
    lambda d, g, e: resolve(parse_dnt(d), parse_gpc(g), exception=e),
    headers,
    st.one_of(st.none(), st.sampled_from(["1", "0"])),
    st.booleans(),
)
texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6)


@st.composite
def event_streams(draw: st.DrawFn) -> list[Event]:
    out: list[Event] = []
    for _ in range(draw(st.integers(1, 15))):
        ds = draw(st.sampled_from(sorted(INV.datasets)))
        spec = INV.datasets[ds].fields
        fields: dict[str, object] = {}
        for name in draw(st.lists(st.sampled_from(sorted(spec)), unique=True)):
            fields[name] = (
                draw(st.integers(0, 1000)) if spec[name].type.value == "integer" else draw(texts)
            )
        out.append(
            Event(
                ds,
                fields,
                draw(prefs),
                draw(st.one_of(st.none(), texts)),
                draw(st.one_of(st.none(), texts)),
            )
        )
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_streams())
def test_property_no_identifier_is_stored_under_do_not_track(stream: list[Event]) -> None:
    """Read back from the database: rows written under do-not-track hold no identifier."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "ledger.db", site="news.example")
        try:
            ledger_for(store).record_many(stream)
            for ds in INV.datasets.values():
                for row in store.iter_events(ds.name):
                    if row.preference != PreferenceState.DO_NOT_TRACK.value:
                        continue
                    assert row.subject_ref is None
                    assert row.visitor_hash is None
                    assert not any(ds.fields[k].is_identifier for k in row.fields)
                    assert all(INV.recipients[r].service_provider for r in row.recipients)
        finally:
            store.close()


def test_same_property_on_the_real_store_for_a_fixed_stream(store: Store) -> None:
    pref_cycle: list[Preference] = [
        DNT1,
        DNT0,
        resolve_headers(None, "1"),
        resolve_headers(None, None),
    ]
    stream = [
        Event(
            "ad_events",
            {"ad_id": f"a{i}", "event": "view", "ad_cookie": f"ck{i}"},
            pref_cycle[i % 4],
            f"u{i}",
            f"h{i}",
        )
        for i in range(40)
    ]
    assert ledger_for(store).record_many(stream).stored == 40
    rows = list(store.iter_events("ad_events"))
    dnt = [r for r in rows if r.preference == "do-not-track"]
    assert len(dnt) == 20
    assert all(
        r.subject_ref is None and r.visitor_hash is None and "ad_cookie" not in r.fields
        for r in dnt
    )
    assert all(r.recipients == () for r in dnt)
    allowed = [r for r in rows if r.preference != "do-not-track"]
    assert all(r.subject_ref and r.fields["ad_cookie"] for r in allowed)


def test_bad_input_never_disturbs_what_is_stored(store: Store) -> None:
    ledger = ledger_for(store)
    good = [
        Event("pageviews", {"path": f"/ok/{i}", "country": "DE"}, DNT0, f"u{i}") for i in range(5)
    ]
    assert ledger.record_many(good).stored == 5
    before = sorted(
        (e.id, e.ts, e.subject_ref, json.dumps(e.fields)) for e in store.iter_events("pageviews")
    )
    hostile = [
        Event("pageviews", {"path": "'); DROP TABLE events; --"}, DNT0, "u0"),  # just text: stored
        Event("pageviews", {"path": "<script>alert(1)</script>"}, DNT0, "u1"),  # just text: stored
        Event("pageviews", {"path": "/a\x00b"}, DNT0, "u2"),
        Event("pageviews", {"path": "x" * 5000}, DNT0, "u3"),
        Event("pageviews", {"load_ms": "12; DELETE FROM events"}, DNT0, "u4"),
        Event("pageviews", {'path"); --': "x"}, DNT0, "u4"),
        Event("pageviews", {"path": "/ok"}, DNT0, "u0'; DROP TABLE subjects; --"),
        Event("pageviews", {"path": "/ok"}, DNT0, "\u202eu0"),
        Event("events; DROP TABLE events", {"path": "/"}, DNT0),
    ]
    result = ledger.record_many(hostile)
    assert result.stored == 3
    assert [(i, e.field) for i, e in result.refused] == [
        (2, "pageviews.path"),
        (3, "pageviews.path"),
        (4, "pageviews.load_ms"),
        (5, "pageviews.?"),
        (7, "subject"),
        (8, "dataset"),
    ]
    after = sorted(
        (e.id, e.ts, e.subject_ref, json.dumps(e.fields)) for e in store.iter_events("pageviews")
    )
    assert after[:5] == before
    stored_paths = {e.fields.get("path") for e in store.iter_events("pageviews")}
    assert {"'); DROP TABLE events; --", "<script>alert(1)</script>"} <= stored_paths
    assert store.events_for_subject("u0'; DROP TABLE subjects; --")[0].fields == {"path": "/ok"}
    if hasattr(store, "path"):
        import sqlite3

        conn = sqlite3.connect(store.path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
