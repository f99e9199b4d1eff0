"""Scheduled jobs: exactly once per slot, and what each one does (on SQLite)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from conftest import BEARER, service_of
from trackpref.service.jobs import run_retention, run_rollup, run_salts, run_webhooks
from trackpref.signals.tracking_exceptions import Duplet, ExceptionSet, Grant

SITE = "news.example"
DAY = 86400.0


def visits(client: TestClient, n: int) -> None:
    for i in range(n):
        r = client.post(
            "/api/collect",
            json={"site": SITE, "type": "pageview", "url": f"/a/{i % 3}"},
            headers={"user-agent": f"Mozilla/5.0 (Windows NT 10.0) Visitor/{i}"},
        )
        assert r.status_code == 202


def test_each_slot_runs_once_across_instances(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app()) as one, TestClient(make_app()) as two:
        a, b = service_of(one), service_of(two)
        assert a.scheduler is None  # run_jobs=False in these tests: drive them by hand
        from trackpref.service.jobs import Scheduler

        sa, sb = Scheduler(a, a.config.jobs), Scheduler(b, b.config.jobs)
        try:
            outcomes = [sa.try_run("retention", 7), sb.try_run("retention", 7)]
            assert sum(o is not None for o in outcomes) == 1
            assert sb.try_run("retention", 8) is not None
            assert sa.try_run("retention", 8) is None
            runs = a.tables.job_runs("retention")
            assert [(r[0], r[1]) for r in runs] == [("retention", 7), ("retention", 8)]
            assert all(r[4] is not None for r in runs), "finished runs are recorded"
        finally:
            sa.close()
            sb.close()


def test_rollup_writes_k_anonymous_days_once(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 12)
        later = time.time() + DAY + 3 * 3600
        first = run_rollup(svc, later)
        assert first["days"] == 1
        assert first["cells"] > 0
        assert run_rollup(svc, later) == {"days": 0, "cells": 0}, "a day is rolled up once"
        store = svc.collector.store_for(SITE)
        cells = [e.fields for e in store.iter_events("daily_rollups")]
        assert all(c["units"] >= c["k"] >= 10 for c in cells)
        [total] = [c for c in cells if c["dimension"] == "total"]
        assert total["pageviews"] == 12
        assert total["visitors"] == 12
        assert all(
            e.visitor_hash is None and e.subject_ref is None
            for e in store.iter_events("daily_rollups")
        )
        stats = client.get(f"/api/stats?site={SITE}&days=2", headers=BEARER).json()
        assert stats["visitors"]["by_day"][0]["visitors"] == 12


def test_a_day_below_k_publishes_nothing(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 3)
        run_rollup(svc, time.time() + DAY + 3 * 3600)
        assert list(svc.collector.store_for(SITE).iter_events("daily_rollups")) == []


def test_retention_purges_and_leaves_evidence(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 4)
        assert run_retention(svc, time.time())["rows"] == 0
        result = run_retention(svc, time.time() + 10 * DAY)
        assert result["rows"] == 4
        store = svc.collector.store_for(SITE)
        assert store.count_events("pageviews") == 0
        [purge] = store.purges("pageviews")
        assert purge.rows == 4
        assert purge.retention == "10 days"
        stats = client.get(f"/api/stats?site={SITE}", headers=BEARER).json()
        assert stats["retention"]["purges"][0]["rows"] == 4
        assert stats["pageviews"]["total"] == 4, "the counts outlive the raw rows"


def test_retention_expires_rights_requests_nobody_verified(
    make_app: Callable[..., Starlette],
) -> None:
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 1)
        rights = svc.rights(SITE)
        req = rights.open_request("access", "someone@mail.example")
        first = run_retention(svc, time.time())
        assert (first["requests_expired"], first["outbox_pruned"]) == (0, 0)
        later = run_retention(svc, time.time() + 2 * DAY)
        assert (later["requests_expired"], later["outbox_pruned"]) == (1, 1)
        outbox = svc.outbox()
        assert outbox is not None
        assert outbox.messages() == [], "the code's e-mail, with its address, is gone too"
        kept = rights.store.get_request(req.id)
        assert kept is not None
        assert kept.status == "expired"
        assert kept.email is None


def test_records_of_finished_business_go_after_the_records_retention(
    make_app: Callable[..., Starlette],
) -> None:
    """Evidence is kept 24 months, then goes: requests, audit entries, a browser's
    exception history and ended exception records; job runs after 30 days."""
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 1)
        now = time.time()
        req = svc.rights(SITE).open_request("access", "someone@mail.example")
        svc.tables.claim_job("rollup", 1, "old", now - 40 * DAY)
        svc.tables.finish_job("rollup", 1, now - 40 * DAY, "ok")
        svc.tables.claim_job("rollup", 2, "new", now - DAY)
        svc.tables.finish_job("rollup", 2, now - DAY, "ok")
        first = run_retention(svc, now + 2 * DAY)  # nobody verified: the request expires
        assert first["records"] == {"service_job_runs": 1}
        assert [r[1] for r in svc.tables.job_runs("rollup")] == [2], "kept 30 days"
        consents = svc.consent_store
        site = Duplet("news.example", "*")
        ended = ExceptionSet((Grant((site,), now - DAY, now + DAY),))
        forever = ExceptionSet((Grant((site,), now - DAY, None),))
        consents.save("ended-id", ended, event="store", now=now)
        consents.save("live-id", forever, event="store", now=now)

        within = run_retention(svc, now + 700 * DAY)
        assert within["records"] == {"service_job_runs": 1}, "evidence stays 24 months"
        store = svc.rights(SITE).store
        assert store.get_request(req.id) is not None
        after = run_retention(svc, now + 760 * DAY)
        records = after["records"]
        assert records["rights_requests"] == 1
        assert records["audit_log"] >= 3  # received, verification sent, expired, runs
        assert records["service_consent_events"] == 1
        assert records["service_consent_records"] == 1
        assert store.get_request(req.id) is None
        assert store.audit_entries(request_id=req.id) == []
        assert consents.history("ended-id") == []
        assert consents.load("ended-id").grants == ()
        assert consents.load("live-id").grants == forever.grants, "a live exception stays"
        assert len(consents.history("live-id")) == 1, "and so does its history"


def test_retention_keeps_the_rollups_day_markers(make_app: Callable[..., Starlette]) -> None:
    """A rolled-up day is marked in service_job_runs; forgetting the marker
    would roll the day up again and count its visitors twice."""
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 12)
        later = time.time() + DAY + 3 * 3600
        assert run_rollup(svc, later)["days"] == 1
        markers = [r for r in svc.tables.job_runs() if r[0].startswith("rollup:")]
        assert markers
        run_retention(svc, later + 40 * DAY)
        assert [r for r in svc.tables.job_runs() if r[0].startswith("rollup:")] == markers
        assert run_rollup(svc, later + 40 * DAY) == {"days": 0, "cells": 0}


def test_deletions_reach_the_inventorys_recipients_by_signed_webhook(
    make_app: Callable[..., Starlette], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import http.server
    import threading
    from importlib import resources

    from trackpref.ledger.webhooks import SIGNATURE_HEADER, verify_signature

    received: list[tuple[str, bytes, str]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body, self.headers[SIGNATURE_HEADER]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return  # quiet: the test reads what arrived, not the server's log

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bundled = resources.files("trackpref.service").joinpath("inventory.toml").read_text()
        inventory = tmp_path / "inventory.toml"
        inventory.write_text(
            bundled + '\n[recipients.partner]\nname = "Partner"\nkind = "processor"\n'
            f'deletion_webhook = "http://127.0.0.1:{server.server_port}/delete"\n'
            'purposes = ["measurement"]\n'
        )
        monkeypatch.setenv("TRACKPREF_WEBHOOK_SECRET_PARTNER", "partner-secret")
        with TestClient(make_app(inventory=str(inventory))) as client:
            svc = service_of(client)
            visits(client, 1)
            rights = svc.rights(SITE)
            assert rights.webhooks is not None
            rights.delete("someone", request_id="r-1")
            assert run_webhooks(svc, time.time()) == {"delivered": 1, "retrying": 0, "failed": 0}
    finally:
        server.shutdown()
        server.server_close()
    [(path, body, signature)] = received
    assert path == "/delete"
    assert verify_signature(b"partner-secret", signature, body, now=time.time())
    assert json.loads(body)["event"] == "deletion"


def test_salts_of_closed_days_are_destroyed(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app()) as client:
        svc = service_of(client)
        visits(client, 1)
        store = svc.collector.store_for(SITE)
        assert len(store.rows("salts")) == 1
        assert run_salts(svc, time.time())["salts_destroyed"] == 0
        assert run_salts(svc, time.time() + 2 * DAY)["salts_destroyed"] == 1
        assert store.rows("salts") == []
