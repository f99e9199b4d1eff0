"""The audit log: what the ledger did, when, and on whose request.

Every rights request step, every retention run, every DROP import and every
webhook delivery leaves an entry. Entries link to a request by its random id
and never hold the person's identity (no e-mail, no subject id): once the
person is deleted, the log still proves *that* and *when* their request was
answered, but can no longer be linked back to them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from .storage.base import AuditEntry, Store

__all__ = ["IDENTITY_KEYS", "AuditLog"]

#: Detail keys refused because they would tie the log to a person.
IDENTITY_KEYS = frozenset({"email", "phone", "subject", "subject_id", "subject_ref", "name"})
#: An entry's detail is small, structured evidence, not a data dump.
MAX_DETAIL_BYTES = 16_384


class AuditLog:
    """Append-only evidence for one site's store."""

    def __init__(
        self, store: Store, *, clock: Callable[[], float] = time.time, actor: str = "system"
    ) -> None:
        self.store = store
        self.clock = clock
        self.actor = actor

    def record(
        self,
        action: str,
        *,
        request_id: str | None = None,
        actor: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry; ``detail`` must be JSON and hold no identity."""
        body = dict(detail or {})
        leaked = IDENTITY_KEYS & set(body)
        if leaked:
            raise ValueError(
                f"audit detail must not identify the person: remove {', '.join(sorted(leaked))}"
            )
        text = json.dumps(body, sort_keys=True, allow_nan=False)
        if len(text) > MAX_DETAIL_BYTES:
            raise ValueError(f"audit detail is {len(text)} bytes, more than {MAX_DETAIL_BYTES}")
        entry = AuditEntry(
            ts=self.clock(),
            action=action,
            request_id=request_id,
            actor=actor or self.actor,
            detail=body,
        )
        entry_id = self.store.append_audit(entry)
        return AuditEntry(entry.ts, action, request_id, entry.actor, body, entry_id)

    def entries(self, *, request_id: str | None = None) -> list[AuditEntry]:
        return self.store.audit_entries(request_id=request_id)

    def export(self, *, request_id: str | None = None) -> list[dict[str, Any]]:
        """The entries as JSON-ready dicts, oldest first."""
        return [
            {
                "id": e.id,
                "ts": e.ts,
                "action": e.action,
                "request_id": e.request_id,
                "actor": e.actor,
                "detail": e.detail,
            }
            for e in self.entries(request_id=request_id)
        ]
