from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackpref.ledger import Event, Ledger
from trackpref.ledger.crypto import FieldCipher
from trackpref.ledger.durations import Duration, Unit
from trackpref.ledger.inventory import Inventory, load_inventory, parse_inventory
from trackpref.ledger.retention import RetentionScheduler, cutoff, expires_at
from trackpref.ledger.storage import EventRow, Store, open_store
from trackpref.ledger.storage.base import (
    AuditEntry,
    Consent,
    PurgeEntry,
    RightsRequest,
    Verification,
)
from trackpref.signals import resolve_headers

EXAMPLE = str(resources.files("trackpref").joinpath("examples", "inventory.toml"))
INV = load_inventory(EXAMPLE)
DAY = 86400.0
T0 = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
ALLOW = resolve_headers("0", None)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fill(store: Store, clock: Clock, ages_days: list[float], inventory: Inventory = INV) -> None:
    ledger = Ledger(inventory, store, clock=clock, sealer=FieldCipher(store, site=store.site))
    events = [
        Event(
            "pageviews",
            {"path": f"/{i}", "referrer_host": "r.example", "country": "DE"},
            ALLOW,
            ts=clock.now - age * DAY,
        )
        for i, age in enumerate(ages_days)
    ]
    result = ledger.record_many(events)
    assert not result.refused


def test_purges_rows_and_fields_and_keeps_evidence(store: Store) -> None:
    clock = Clock(T0)
    fill(store, clock, [0.9, 0.5, 0.0])
    clock.now = T0 + 0.6 * DAY  # the referrer of the first two is now past 24 hours
    scheduler = RetentionScheduler(INV, store, clock=clock, lead=0)
    report = scheduler.run_once()
    assert report.rows == 2
    [purge] = report.purges
    assert (purge.dataset, purge.field, purge.rows, purge.retention) == (
        "pageviews",
        "referrer_host",
        2,
        "24 hours",
    )
    assert purge.cutoff == clock.now - DAY
    kept = {e.fields["path"]: e.fields for e in store.iter_events("pageviews")}
    assert "referrer_host" not in kept["/0"]
    assert "referrer_host" not in kept["/1"]
    assert kept["/2"]["referrer_host"] == "r.example"
    clock.now = T0 + 9.2 * DAY  # /0 is now older than the dataset's 10 days
    report = scheduler.run_once()
    assert [(p.field, p.rows) for p in report.purges] == [(None, 1), ("referrer_host", 1)]
    assert sorted(e.fields["path"] for e in store.iter_events("pageviews")) == ["/1", "/2"]
    log = store.purges("pageviews")
    assert [(p.field, p.rows) for p in log] == [
        ("referrer_host", 2),
        (None, 1),
        ("referrer_host", 1),
    ]
    runs = [e for e in store.audit_entries() if e.action == "retention.run"]
    assert len(runs) == 2
    assert runs[-1].detail["rows"] == 2


def test_next_due_is_when_the_oldest_row_expires(store: Store) -> None:
    clock = Clock(T0)
    fill(store, clock, [0.25, 0.5])
    scheduler = RetentionScheduler(INV, store, clock=clock, lead=0)
    report = scheduler.run_once()
    assert report.rows == 0
    # the referrer of the older row expires first: 24 hours after it was stamped
    assert report.next_due == pytest.approx(T0 - 0.5 * DAY + DAY)
    clock.now = report.next_due
    report = scheduler.run_once()
    assert [(p.field, p.rows) for p in report.purges] == [("referrer_host", 1)]


def test_empty_store_has_nothing_due(store: Store) -> None:
    scheduler = RetentionScheduler(INV, store, clock=Clock(T0))
    report = scheduler.run_once()
    assert report.next_due is None
    assert report.as_dict()["rows"] == 0
    assert scheduler.pause_after(report, T0) == scheduler.max_sleep


def test_lead_and_sleep_are_bounded_by_the_shortest_retention() -> None:
    inv = parse_inventory(
        """
[site]
name = "x"
[datasets.burst]
purposes = ["security"]
legal_basis = "legal-obligation"
retention = "40s"
[datasets.burst.fields.a]
category = "a.b"
"""
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "l.db", site="x")
        try:
            s = RetentionScheduler(inv, store, clock=Clock(T0), lead=60, max_sleep=3600)
            assert s.lead == 10.0
            assert s.max_sleep == 20.0
        finally:
            store.close()


def test_run_forever_stops(store: Store) -> None:
    clock = Clock(T0)
    scheduler = RetentionScheduler(INV, store, clock=clock)
    pauses: list[float] = []

    def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.now += seconds
        if len(pauses) == 3:
            scheduler.stop()

    scheduler.run_forever(sleep=fake_sleep)
    assert len(pauses) == 3
    assert all(p == scheduler.max_sleep for p in pauses)


@given(
    st.integers(1, 40),
    st.sampled_from(list(Unit)),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
def test_property_expiry_is_the_first_moment_past_the_cutoff(
    amount: int, unit: Unit, ts: float
) -> None:
    d = Duration(amount, unit)
    due = expires_at(d, ts)
    assert cutoff(d, due) >= ts
    if d.min_seconds == d.max_seconds:
        assert due == pytest.approx(ts + d.min_seconds, abs=1e-6)
    else:
        assert cutoff(d, due - 0.005) < ts


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[float, list[float]]]:
    """Steps of (time advance in hours, ages in days of events arriving then)."""
    return draw(
        st.lists(
            st.tuples(
                st.floats(min_value=0, max_value=72, allow_nan=False),
                st.lists(st.floats(min_value=0, max_value=9.9, allow_nan=False), max_size=5),
            ),
            min_size=1,
            max_size=12,
        )
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.sampled_from([0.0, 60.0, 3600.0]))
def test_property_no_row_outlives_its_retention(
    steps: list[tuple[float, list[float]]], lead: float
) -> None:
    """Random event streams and clocks: at every moment, nothing is past its limit.

    The scheduler runs when it said it would wake (``pause_after``); between
    runs, events keep arriving (some backdated), and the invariant is checked
    at every step, not only right after a purge.
    """
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "l.db", site="news.example")
        try:
            clock = Clock(T0)
            scheduler = RetentionScheduler(INV, store, clock=clock, lead=lead)
            wake = clock.now
            for advance_hours, ages in steps:
                target = clock.now + advance_hours * 3600
                # Move time forward, running the scheduler whenever it is due.
                while wake <= target:
                    clock.now = max(clock.now, wake)
                    check_invariant(store, clock.now)
                    report = scheduler.run_once()
                    check_invariant(store, clock.now)
                    wake = clock.now + scheduler.pause_after(report, clock.now)
                clock.now = target
                check_invariant(store, clock.now)
                fill(store, clock, ages)
                check_invariant(store, clock.now)
        finally:
            store.close()


def check_invariant(store: Store, now: float) -> None:
    for ds in INV.datasets.values():
        limit = cutoff(ds.retention, now)
        for row in store.iter_events(ds.name):
            assert row.ts >= limit, f"{ds.name} row {row.ts} outlived {ds.retention} at {now}"
            for name in row.fields:
                field_limit = cutoff(ds.fields[name].retention, now)
                assert row.ts >= field_limit, f"{ds.name}.{name} outlived its retention"


# -- datasets the inventory no longer declares ----------------------------------

#: The example inventory after the site dropped its ad_events dataset.
WITHOUT_ADS = parse_inventory(
    Path(EXAMPLE).read_text().split("[datasets.ad_events]")[0]
    + "[datasets.subscriptions]"
    + Path(EXAMPLE).read_text().split("[datasets.subscriptions]")[1]
)


def test_a_dropped_dataset_is_purged_under_the_raw_log_retention(store: Store) -> None:
    assert "ad_events" not in WITHOUT_ADS.datasets
    assert str(WITHOUT_ADS.site.raw_log_retention) == "10 days"
    clock = Clock(T0)
    ledger = Ledger(INV, store, clock=clock)
    for age in (6.0, 1.0):  # within the 7 days the old inventory declared
        ledger.record("ad_events", {"ad_id": f"ad-{age}"}, ALLOW, ts=clock.now - age * DAY)
    clock.now = T0 + 5 * DAY  # ages 11 and 6 days: one past the raw-log retention
    scheduler = RetentionScheduler(WITHOUT_ADS, store, clock=clock, lead=0)
    assert scheduler.next_due() == pytest.approx(T0 - 6 * DAY + 10 * DAY)
    report = scheduler.run_once()
    [purge] = report.purges
    assert (purge.dataset, purge.field, purge.rows, purge.retention) == (
        "ad_events",
        None,
        1,
        "10 days",
    )
    assert purge.cutoff == clock.now - 10 * DAY
    assert [e.fields["ad_id"] for e in store.iter_events("ad_events")] == ["ad-1.0"]
    assert [(p.dataset, p.rows) for p in store.purges("ad_events")] == [("ad_events", 1)]
    [run] = [e for e in store.audit_entries() if e.action == "retention.run"]
    assert run.detail["purges"] == [["ad_events", None, 1]]
    # the one left is due when it reaches the raw-log retention, and then goes
    assert report.next_due == pytest.approx(T0 - DAY + 10 * DAY)
    clock.now = report.next_due
    assert scheduler.run_once().rows == 1
    assert store.count_events("ad_events") == 0
    assert store.datasets() == []


def test_another_sites_undeclared_rows_are_its_own_business(store: Store) -> None:
    other = store.for_site("other.example")
    did = other.put_decision(
        dataset="old", preference="allow", purposes=[], recipients=[], explanation={}
    )
    other.insert_events([EventRow(other.site, "old", T0 - 400 * DAY, None, None, did, "{}")])
    report = RetentionScheduler(WITHOUT_ADS, store, clock=Clock(T0)).run_once()
    assert report.rows == 0
    assert other.count_events("old") == 1


KEPT_AND_RAW = """
[site]
name = "news.example"
raw_log_retention = "{raw}"
[datasets.kept]
kind = "records"
purposes = ["legal-compliance"]
legal_basis = "legal-obligation"
retention = "7 years"
[datasets.kept.fields.n]
type = "integer"
category = "system.operations"
"""


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["1h", "2d", "10d", "30 days"]),
    st.lists(
        st.tuples(
            st.sampled_from(["dropped", "gone_too", "kept"]), st.floats(0, 40, allow_nan=False)
        ),
        max_size=30,
    ),
    st.sampled_from([0.0, 60.0]),
)
def test_property_undeclared_rows_never_outlive_the_raw_log_retention(
    raw: str, rows: list[tuple[str, float]], lead: float
) -> None:
    """Whatever the store holds that the inventory does not declare goes at the
    raw-log retention; what it declares keeps its own (longer) retention."""
    inventory = parse_inventory(KEPT_AND_RAW.format(raw=raw))
    retention = inventory.site.raw_log_retention
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "l.db", site="news.example")
        try:
            did = store.put_decision(
                dataset="any", preference="allow", purposes=[], recipients=[], explanation={}
            )
            store.insert_events(
                [
                    EventRow(store.site, ds, T0 - age * DAY, None, None, did, '{"n": 1}')
                    for ds, age in rows
                ]
            )
            scheduler = RetentionScheduler(inventory, store, clock=Clock(T0), lead=lead)
            report = scheduler.run_once()
            limit = cutoff(retention, T0 + scheduler.lead)
            for ds in ("dropped", "gone_too"):
                left = [e.ts for e in store.iter_events(ds)]
                expected = sorted(T0 - a * DAY for d, a in rows if d == ds and T0 - a * DAY > limit)
                assert left == expected, f"{ds}: rows past {retention} survived or others went"
                purged = sum(p.rows for p in report.purges if p.dataset == ds)
                assert purged == sum(1 for d, _ in rows if d == ds) - len(expected)
                assert all(p.retention == str(retention) for p in store.purges(ds))
            assert store.count_events("kept") == sum(1 for d, _ in rows if d == "kept")
            if report.next_due is not None:
                assert report.next_due > T0
        finally:
            store.close()


# -- purged rows must not survive in the SQLite files ----------------------------


def marker_counts(db: Path, marker: bytes) -> int:
    return sum(p.read_bytes().count(marker) for p in (db, Path(f"{db}-wal")) if p.exists())


def test_purged_rows_leave_no_bytes_in_the_sqlite_files(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    store = open_store(db, site="news.example")
    try:
        clock = Clock(T0)
        ledger = Ledger(INV, store, clock=clock)
        ledger.record_many(
            [
                Event(
                    "pageviews",
                    {"path": f"/expired/ZEBRA-{i}", "referrer_host": "OLD.example"},
                    ALLOW,
                )
                for i in range(2000)
            ]
        )
        clock.now = T0 + 11 * DAY
        ledger.record_many(
            [Event("pageviews", {"path": f"/fresh/{i}"}, ALLOW) for i in range(2000)]
        )
        assert marker_counts(db, b"/expired/ZEBRA-")
        report = RetentionScheduler(INV, store, clock=clock).run_once()
        assert report.rows == 2000
        assert store.count_events() == 2000
        assert not store.scrub_pending
        # while the store is open (a backup could be taken now) ...
        assert marker_counts(db, b"/expired/ZEBRA-") == 0
        assert marker_counts(db, b"OLD.example") == 0
    finally:
        store.close()
    # ... and after it closed
    assert marker_counts(db, b"/expired/ZEBRA-") == 0
    assert marker_counts(db, b"OLD.example") == 0


# -- records of finished business -----------------------------------------------

#: One record of each kind: (kind, finished?) -> how it is written at time ``ts``.
RECORD_KINDS = ("audit", "purge", "webhook", "consent", "request")


def add_record(store: Store, kind: str, ts: float, finished: bool, n: int) -> str:
    """Write one record made (or ended) at ``ts``; returns a key to find it again."""
    key = f"{kind}-{n}"
    if kind == "audit":
        store.append_audit(AuditEntry(ts=ts, action="test.record", request_id=key))
    elif kind == "purge":
        store.append_purge(PurgeEntry(ts=ts, dataset=key, rows=1, cutoff=ts, retention="10 days"))
    elif kind == "webhook":
        item = store.enqueue_webhook(
            request_id=key, recipient="crm", url="https://crm.example/hook", payload="{}", at=ts
        )
        if finished:
            store.update_webhook(item, status="delivered", delivered_at=ts, payload="")
    elif kind == "consent":
        store.add_consent(
            Consent(
                subject_ref=key,
                kind="exception",
                targets=("ads.example",),
                granted_at=ts - DAY,
                withdrawn_at=ts if finished else None,
            )
        )
    else:
        store.create_request(
            RightsRequest(
                id=key,
                kind="access",
                regime="ccpa",
                status="completed" if finished else "received",
                received_at=ts - DAY,
                due_at=ts + 44 * DAY,
                completed_at=ts if finished else None,
            )
        )
        store.put_verification(Verification(request_id=key, code_hash="x", expires_at=ts))
    return key


def present(store: Store, kind: str, key: str) -> bool:
    if kind == "audit":
        return bool(store.audit_entries(request_id=key))
    if kind == "purge":
        return bool(store.purges(key))
    if kind == "webhook":
        return bool(store.outbox(key))
    if kind == "consent":
        return bool(store.consents_for(key))
    found = store.get_request(key) is not None
    assert found == (store.get_verification(key) is not None), "a code outlived its request"
    return found


def test_finished_records_go_after_the_records_retention_and_open_ones_stay(
    store: Store,
) -> None:
    assert str(INV.site.records_retention) == "24 months"
    now = T0 + 900 * DAY
    limit = cutoff(INV.site.records_retention, now)
    cases: list[tuple[str, str, bool]] = []
    for n, kind in enumerate(RECORD_KINDS):
        for ts, finished, kept in (
            (limit - DAY, True, False),  # finished, past its time: goes
            (limit + DAY, True, True),  # finished, still within its time
            (limit - 300 * DAY, False, kind in ("webhook", "consent", "request")),  # open
        ):
            key = add_record(store, kind, ts, finished, len(cases) + n * 10)
            cases.append((kind, key, kept))
    report = RetentionScheduler(INV, store).run_once(now)
    for kind, key, kept in cases:
        assert present(store, kind, key) == kept, (kind, key)
    assert report.records == {
        "audit_log": 2,  # an audit entry and a purge entry are finished when written
        "purge_log": 2,
        "webhook_outbox": 1,
        "consents": 1,
        "rights_requests": 1,
        "verifications": 1,
    }
    # The run says what it deleted, in the (new) audit log.
    (run,) = [e for e in store.audit_entries() if e.action == "retention.run"]
    assert run.detail["records"] == report.records
    assert report.as_dict()["records"] == report.records


def test_the_audit_trail_of_an_open_request_stays_with_it(store: Store) -> None:
    now = T0 + 900 * DAY
    old = cutoff(INV.site.records_retention, now) - 100 * DAY
    key = add_record(store, "request", old, False, 1)  # received long ago, still open
    store.append_audit(AuditEntry(ts=old, action="request.received", request_id=key))
    store.append_audit(AuditEntry(ts=old, action="request.received", request_id="gone-long-ago"))
    report = RetentionScheduler(INV, store).run_once(now)
    assert [e.action for e in store.audit_entries(request_id=key)] == ["request.received"]
    assert store.audit_entries(request_id="gone-long-ago") == []
    assert report.records == {"audit_log": 1}


def test_records_are_kept_until_their_time_not_purged_ahead(store: Store) -> None:
    """Evidence the CCPA asks to keep 24 months must not go early: no lead."""
    now = T0 + 900 * DAY
    limit = cutoff(INV.site.records_retention, now)
    key = add_record(store, "request", limit + 1.0, True, 1)
    RetentionScheduler(INV, store, lead=3600.0).run_once(now)
    assert present(store, "request", key)
    RetentionScheduler(INV, store, lead=3600.0).run_once(now + 2.0)
    assert not present(store, "request", key)


def test_records_of_another_site_are_its_own_business(store_url: str) -> None:
    now = T0 + 900 * DAY
    old = cutoff(INV.site.records_retention, now) - DAY
    with (
        open_store(store_url, site="news.example") as mine,
        open_store(store_url, site="other.example") as theirs,
    ):
        keys = [add_record(theirs, kind, old, True, i) for i, kind in enumerate(RECORD_KINDS)]
        RetentionScheduler(INV, mine).run_once(now)
        assert all(present(theirs, k, key) for k, key in zip(RECORD_KINDS, keys, strict=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(RECORD_KINDS),
            st.floats(min_value=0, max_value=1500),  # age in days
            st.booleans(),
        ),
        max_size=30,
    ),
    months=st.integers(min_value=1, max_value=48),
)
def test_property_no_finished_record_outlives_the_records_retention(
    records: list[tuple[str, float, bool]], months: int
) -> None:
    inventory = parse_inventory(
        Path(EXAMPLE)
        .read_text()
        .replace("[site]\n", f'[site]\nrecords_retention = "{months} months"\n', 1)
    )
    assert inventory.site.records_retention == Duration(months, Unit.MONTHS)
    now = T0 + 2000 * DAY
    limit = cutoff(inventory.site.records_retention, now)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "l.db", site="news.example")
        try:
            written = [
                (kind, add_record(store, kind, now - age * DAY, finished, i), age, finished)
                for i, (kind, age, finished) in enumerate(records)
            ]
            RetentionScheduler(inventory, store).run_once(now)
            for kind, key, age, finished in written:
                ts = now - age * DAY
                # Audit and purge entries are finished when they are written.
                done = finished or kind in ("audit", "purge")
                assert present(store, kind, key) == (not done or ts >= limit), (kind, age)
        finally:
            store.close()
