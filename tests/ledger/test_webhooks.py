from __future__ import annotations

import json

import pytest
from ledger_loopback import WebhookServer

from trackpref.ledger.inventory import Inventory, parse_inventory
from trackpref.ledger.storage import Store
from trackpref.ledger.webhooks import (
    BACKOFF,
    SIGNATURE_HEADER,
    UrllibTransport,
    WebhookDispatcher,
    sign,
    verify_signature,
)

SECRET = b"shared-with-the-cdn"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def inventory(url: str) -> Inventory:
    return parse_inventory(
        f"""
[site]
name = "news.example"
[recipients.cdn]
name = "CDN"
kind = "processor"
deletion_webhook = "{url}/cdn/delete"
[recipients.ads]
name = "Ads"
kind = "third-party"
deletion_webhook = "{url}/ads/delete"
[recipients.quiet]
name = "No webhook"
kind = "processor"
[datasets.v]
purposes = ["security"]
legal_basis = "legal-obligation"
[datasets.v.fields.a]
category = "a.b"
"""
    )


def test_sign_and_verify() -> None:
    body = b'{"event":"deletion"}'
    header = sign(SECRET, 1000, body)
    assert header.startswith("t=1000,v1=")
    assert verify_signature(SECRET, header, body, now=1000)
    assert verify_signature(SECRET, header, body, now=1200)
    assert not verify_signature(SECRET, header, body, now=1400)  # replayed too late
    assert not verify_signature(b"other", header, body, now=1000)
    assert not verify_signature(SECRET, header, body + b" ", now=1000)
    assert not verify_signature(SECRET, "garbage", body, now=1000)
    assert not verify_signature(SECRET, "t=x,v1=y", body, now=1000)
    for junk in ("9" * 400, "\u00b2", "-5", "1e3"):  # int() takes 400 digits; abs() overflowed
        assert not verify_signature(SECRET, f"t={junk},v1=\u00e9", body, now=1000)


def test_deletion_reaches_every_recipient_signed(
    store: Store, webhook_server: WebhookServer
) -> None:
    clock = Clock()
    d = WebhookDispatcher(
        inventory(webhook_server.url),
        store,
        {"cdn": SECRET, "ads": b"ads-secret"},
        clock=clock,
    )
    ids = d.enqueue(
        "deletion", request_id="r1", subject_ref="user-7", identifiers={"email_sha256": "ab" * 32}
    )
    assert len(ids) == 2  # the recipient without a webhook gets nothing
    report = d.deliver_due()
    assert report.delivered == 2
    by_path = {r.path: r for r in webhook_server.received}
    cdn = by_path["/cdn/delete"]
    assert verify_signature(SECRET, cdn.headers[SIGNATURE_HEADER], cdn.body, now=clock.now)
    payload = json.loads(cdn.body)
    assert payload["event"] == "deletion"
    assert payload["subject"] == {"ref": "user-7", "email_sha256": "ab" * 32}
    assert payload["site"] == "news.example"
    assert cdn.headers["Idempotency-Key"] == f"news.example:{ids[0]}"
    ads = by_path["/ads/delete"]
    assert verify_signature(b"ads-secret", ads.headers[SIGNATURE_HEADER], ads.body, now=clock.now)
    # delivered items keep no identity
    for item in store.outbox("r1"):
        assert item.status == "delivered"
        assert "user-7" not in item.payload
    actions = [e.action for e in store.audit_entries(request_id="r1")]
    assert actions.count("webhook.queued") == 2
    assert actions.count("webhook.delivered") == 2


def test_retries_with_backoff_then_delivers(store: Store, webhook_server: WebhookServer) -> None:
    clock = Clock()
    webhook_server.statuses = [503, 500, 200]
    inv = inventory(webhook_server.url)
    d = WebhookDispatcher(inv, store, {"cdn": SECRET}, clock=clock)
    d.enqueue("deletion", request_id="r1", subject_ref="u", third_parties_only=False)
    # only the cdn has a secret: the ad network's delivery fails without being sent
    report = d.deliver_due()
    assert report.retrying == 2
    pending = {i.recipient: i for i in store.outbox()}
    assert pending["cdn"].last_error == "HTTP 503"
    assert "no signing secret" in (pending["ads"].last_error or "")
    assert pending["cdn"].next_attempt_at == clock.now + BACKOFF[0]
    assert d.deliver_due().delivered == 0  # not due yet
    clock.now += BACKOFF[0]
    assert d.deliver_due().retrying == 2
    clock.now += BACKOFF[1]
    report = d.deliver_due()
    assert report.delivered == 1
    assert len([r for r in webhook_server.received if r.path == "/cdn/delete"]) == 3
    assert not any(r.path == "/ads/delete" for r in webhook_server.received)


def test_gives_up_and_scrubs(store: Store, webhook_server: WebhookServer) -> None:
    clock = Clock()
    webhook_server.statuses = [500]
    d = WebhookDispatcher(
        inventory(webhook_server.url), store, {"cdn": SECRET}, clock=clock, max_attempts=3
    )
    d.enqueue("deletion", request_id="r1", subject_ref="user-9", third_parties_only=False)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    report = d.deliver_until_done(sleep=sleep)
    assert report.failed == 2
    for item in store.outbox():
        assert item.status == "failed"
        assert item.attempts == 3
        assert "user-9" not in item.payload
    failed = [e for e in store.audit_entries() if e.action == "webhook.failed"]
    assert len(failed) == 2
    assert failed[0].detail["action"] == "notify the recipient by other means"


def test_opt_out_goes_to_third_parties_only(store: Store, webhook_server: WebhookServer) -> None:
    d = WebhookDispatcher(inventory(webhook_server.url), store, {"cdn": SECRET, "ads": SECRET})
    d.enqueue("opt-out", request_id=None, subject_ref="u", third_parties_only=True)
    assert d.deliver_due().delivered == 1
    assert [r.path for r in webhook_server.received] == ["/ads/delete"]


def test_unreachable_recipient_is_retried(store: Store) -> None:
    d = WebhookDispatcher(
        inventory("http://127.0.0.1:1"),
        store,
        lambda rid: SECRET,
        transport=UrllibTransport(timeout=2),
    )
    d.enqueue("deletion", request_id=None, subject_ref="u")
    report = d.deliver_due()
    assert report.retrying == 2
    assert all("network error" in (i.last_error or "") for i in store.outbox())


def test_transport_refuses_other_schemes() -> None:
    with pytest.raises(OSError, match="refusing"):
        UrllibTransport().post("file:///etc/passwd", b"", {})
