"""Passing deletions and opt-outs on to the recipients the inventory declares.

When a person is deleted (or opts out of sale and sharing), every recipient
with a ``deletion_webhook`` gets a signed POST. Deliveries go through an
outbox in the store, so a recipient that is down is retried with growing
pauses (1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h) and a crash loses
nothing.

Signing follows the common webhook scheme: the header
``Trackpref-Signature: t=<unix time>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 (stdlib :mod:`hmac`) over ``"<t>." + body`` with the secret
shared with that recipient. The timestamp lets the receiver refuse replays
(:func:`verify_signature` checks both). ``Idempotency-Key`` carries the
outbox id so a retried delivery can be recognised.

The payload names the subject by the site's reference and by DROP-style
SHA-256 hashes of the e-mail and phone, never in clear. Once delivered, or
given up after the last attempt, the payload is scrubbed from the outbox:
after that nothing in it links to the person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .._untrusted import same_secret, whole_number
from .audit_log import AuditLog
from .inventory import Inventory
from .storage.base import OutboxItem, Store

__all__ = [
    "BACKOFF",
    "SECRET_ENV_PREFIX",
    "DeliveryReport",
    "Transport",
    "UrllibTransport",
    "WebhookDispatcher",
    "secret_from_env",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "Trackpref-Signature"
#: Seconds to wait before attempt n+1 (the last value repeats).
BACKOFF = (60.0, 300.0, 1800.0, 7200.0, 21600.0, 43200.0, 86400.0)
_SCRUBBED = '{"scrubbed":true}'


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``Trackpref-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: bytes, header: str, body: bytes, *, now: float, tolerance: float = 300.0
) -> bool:
    """What a recipient runs: right secret, untampered body, fresh timestamp."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = whole_number(parts["t"], max_digits=12)
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if timestamp is None:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return same_secret(given, expected)


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST and return the HTTP status; raise OSError on network failure."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a signed deletion must reach the URL declared, nowhere else


class UrllibTransport:
    """Stdlib HTTP client: no redirects, a timeout, no proxies from the environment."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        if not url.startswith(("https://", "http://")):
            raise OSError(f"refusing to post to {url!r}")
        req = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))  # noqa: S310
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except urllib.error.URLError as exc:
            raise OSError(str(exc.reason)) from None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


#: A recipient's shared secret comes from ``TRACKPREF_WEBHOOK_SECRET_<ID>`` (the id
#: upper-cased, anything but letters and digits as ``_``): secrets stay out of the
#: inventory, which is published.
SECRET_ENV_PREFIX = "TRACKPREF_WEBHOOK_SECRET_"  # noqa: S105 - a variable name, not a secret


def secret_from_env(recipient: str) -> bytes | None:
    """The shared secret of ``recipient`` from the environment, or None."""
    name = SECRET_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", recipient.upper())
    value = os.environ.get(name)
    return value.encode() if value else None


class WebhookDispatcher:
    """Queues and delivers signed notices to the inventory's recipients.

    ``secrets`` gives the shared secret of a recipient id (a mapping, or a
    function returning ``None`` for recipients without one: those are not
    sent anything unsigned, the failure is recorded instead).
    """

    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        secrets: Mapping[str, bytes] | Callable[[str], bytes | None],
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        audit: AuditLog | None = None,
        max_attempts: int = len(BACKOFF) + 1,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self._secrets = secrets
        self.transport = transport if transport is not None else UrllibTransport()
        self.clock = clock
        self.audit = audit if audit is not None else AuditLog(store, clock=clock)
        self.max_attempts = max_attempts

    def _secret(self, recipient: str) -> bytes | None:
        if callable(self._secrets):
            return self._secrets(recipient)
        return self._secrets.get(recipient)

    def enqueue(
        self,
        event: str,
        *,
        request_id: str | None,
        subject_ref: str,
        identifiers: Mapping[str, str] | None = None,
        third_parties_only: bool = False,
    ) -> list[int]:
        """Queue ``event`` ("deletion" or "opt-out") for every recipient with a webhook."""
        ids: list[int] = []
        now = self.clock()
        for rid, recipient in self.inventory.recipients.items():
            if recipient.deletion_webhook is None:
                continue
            if third_parties_only and recipient.service_provider:
                continue
            payload = json.dumps(
                {
                    "event": event,
                    "site": self.store.site,
                    "recipient": rid,
                    "request_id": request_id,
                    "subject": {"ref": subject_ref, **dict(identifiers or {})},
                    "requested_at": now,
                },
                sort_keys=True,
            )
            item = self.store.enqueue_webhook(
                request_id=request_id,
                recipient=rid,
                url=recipient.deletion_webhook,
                payload=payload,
                at=now,
            )
            ids.append(item)
            self.audit.record(
                "webhook.queued",
                request_id=request_id,
                detail={"event": event, "recipient": rid, "outbox_id": item},
            )
        return ids

    def deliver_due(self, now: float | None = None) -> DeliveryReport:
        """Try every delivery that is due; returns what happened."""
        at = self.clock() if now is None else now
        delivered = retrying = failed = 0
        for item in self.store.due_webhooks(at):
            outcome = self._attempt(item, at)
            if outcome == "delivered":
                delivered += 1
            elif outcome == "failed":
                failed += 1
            else:
                retrying += 1
        return DeliveryReport(delivered, retrying, failed)

    def deliver_until_done(
        self, *, rounds: int = 20, sleep: Callable[[float], object] = time.sleep
    ) -> DeliveryReport:
        """Deliver, wait for the next retry, repeat (for a CLI or a test)."""
        total = DeliveryReport()
        for _ in range(rounds):
            report = self.deliver_due()
            total = DeliveryReport(
                total.delivered + report.delivered, report.retrying, total.failed + report.failed
            )
            pending = [i for i in self.store.outbox() if i.status == "pending"]
            if not pending:
                break
            sleep(max(0.0, min(i.next_attempt_at for i in pending) - self.clock()))
        return total

    def _attempt(self, item: OutboxItem, at: float) -> str:
        secret = self._secret(item.recipient)
        body = item.payload.encode()
        error: str
        if secret is None:
            error = f"no signing secret configured for recipient {item.recipient!r}"
        else:
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, int(at), body),
                "Idempotency-Key": f"{self.store.site}:{item.id}",
                "User-Agent": "trackpref-ledger",
            }
            try:
                status = self.transport.post(item.url, body, headers)
            except OSError as exc:
                error = f"network error: {exc}"
            else:
                if 200 <= status < 300:
                    self.store.update_webhook(
                        item.id,
                        status="delivered",
                        delivered_at=at,
                        payload=_SCRUBBED,
                        attempts=item.attempts + 1,
                        last_error=None,
                    )
                    self.audit.record(
                        "webhook.delivered",
                        request_id=item.request_id,
                        detail={"recipient": item.recipient, "outbox_id": item.id, "http": status},
                    )
                    return "delivered"
                error = f"HTTP {status}"
        attempts = item.attempts + 1
        if attempts >= self.max_attempts:
            self.store.update_webhook(
                item.id, status="failed", attempts=attempts, last_error=error, payload=_SCRUBBED
            )
            self.audit.record(
                "webhook.failed",
                request_id=item.request_id,
                detail={
                    "recipient": item.recipient,
                    "outbox_id": item.id,
                    "attempts": attempts,
                    "error": error,
                    "action": "notify the recipient by other means",
                },
            )
            return "failed"
        pause = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
        self.store.update_webhook(
            item.id, attempts=attempts, next_attempt_at=at + pause, last_error=error
        )
        return "retrying"
