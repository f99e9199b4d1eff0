"""The ledger: data safety as code.

What a site keeps is declared in an inventory (:mod:`.inventory`); every write
goes through the gate (:mod:`.gate`) with the person's resolved preference;
storage (:mod:`.storage`) keeps each site apart; retention (:mod:`.retention`)
purges on time and keeps evidence; rights (:mod:`.rights`) answers access,
correction, deletion and opt-out; DROP (:mod:`.drop`) handles California's
data-broker deletion lists.

:class:`Ledger` is the front door for writes: gate, seal, store, in that
order, so that no caller can store a value the gate has not seen::

    ledger = Ledger(load_inventory("inventory.toml"), open_store("ledger.db", site="news.example"))
    admission = ledger.record("pageviews", {"path": "/"}, preference)
    admission.explanation.as_dict()   # which rule, which signal

Heavier parts (PostgreSQL, SMTP, HTTP webhooks) are imported only by the
modules that need them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple, Protocol

from trackpref.signals.decisions import PartyRole
from trackpref.signals.preference import DEFAULT_PRECEDENCE, Precedence, Preference

from .crypto import CryptoError
from .gate import (
    Admission,
    ExceptionScope,
    Explanation,
    Gate,
    GatedBatch,
    GateError,
    Plan,
    Record,
)
from .inventory import Inventory
from .storage.base import EventRow, Store, StoreError, encode_fields

__all__ = ["BatchResult", "Event", "Ledger", "LedgerError", "Sealer"]


class LedgerError(StoreError):
    """The ledger cannot store what the gate admitted (e.g. no sealer)."""


class Sealer(Protocol):
    """Application-level encryption of sensitive fields, one key per subject.

    Ledger B's :mod:`trackpref.ledger.crypto` provides the implementation
    (AES-GCM with keys in the store's separate key database); anything with
    these two methods works.
    """

    def seal(self, subject_id: str, dataset: str, field: str, value: object) -> str: ...

    def unseal(self, subject_id: str, dataset: str, field: str, token: str) -> object: ...


class Event(NamedTuple):
    """One event for :meth:`Ledger.record_many`."""

    dataset: str
    fields: dict[str, object]
    preference: Preference
    subject: str | None = None
    visitor_hash: str | None = None
    grant: ExceptionScope | None = None
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What happened to a batch: how many stored, which refused and why."""

    stored: int
    #: Events the preference left nothing to keep of (no purpose allowed).
    withheld: int = 0
    refused: tuple[tuple[int, GateError], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "withheld": self.withheld,
            "refused": [{"index": i, **e.as_dict()} for i, e in self.refused],
        }


class Ledger:
    """Gate, seal and store: the only way events should reach the store."""

    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        *,
        role: PartyRole | str = PartyRole.FIRST_PARTY,
        clock: Callable[[], float] = time.time,
        sealer: Sealer | None = None,
        precedence: Precedence = DEFAULT_PRECEDENCE,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.clock = clock
        self.sealer = sealer
        self.gate = Gate(inventory, role=role, clock=clock, precedence=precedence)
        self._decisions: dict[int, tuple[Explanation, int]] = {}
        self._plan_ids: dict[int, tuple[Plan, int]] = {}

    def decision_id(self, explanation: Explanation) -> int:
        """The stored id of an explanation (stored once, then cached)."""
        hit = self._decisions.get(id(explanation))
        if hit is not None and hit[0] is explanation:
            return hit[1]
        rules = explanation.rules
        purposes = [r.target for r in rules if r.rule == "purpose" and r.outcome == "allowed"]
        recipients = [r.target for r in rules if r.rule == "recipient" and r.outcome == "shared"]
        did = self.store.put_decision(
            dataset=explanation.dataset,
            preference=explanation.preference,
            purposes=purposes,
            recipients=recipients,
            explanation=explanation.as_dict(),
        )
        if len(self._decisions) > 65536:
            self._decisions.clear()
        self._decisions[id(explanation)] = (explanation, did)
        return did

    def _row(self, record: Record) -> EventRow:
        fields = record.fields
        if record.sealed:
            fields = self._seal(record.dataset, record.subject, record.sealed, fields)
        return EventRow(
            self.store.site,
            record.dataset,
            record.ts,
            record.subject,
            record.visitor_hash,
            self.decision_id(record.explanation),
            encode_fields(fields),
        )

    def _seal(
        self,
        dataset: str,
        subject: str | None,
        sealed: tuple[str, ...],
        fields: dict[str, object],
    ) -> dict[str, object]:
        if self.sealer is None:
            raise LedgerError(
                f"{dataset}: sensitive fields ({', '.join(sealed)}) need a sealer; "
                "refusing to store them in clear"
            )
        if subject is None:  # the gate keeps sensitive fields only with a subject
            raise LedgerError(f"{dataset}: sensitive fields without a subject")
        out = dict(fields)
        for name in sealed:
            if name in out:
                out[name] = self.sealer.seal(subject, dataset, name, out[name])
        return out

    def record(
        self,
        dataset: str,
        fields: dict[str, object],
        preference: Preference,
        *,
        subject: str | None = None,
        visitor_hash: str | None = None,
        grant: ExceptionScope | None = None,
        ts: float | None = None,
    ) -> Admission:
        """Gate and store one event; raises :class:`GateError` if refused."""
        admission = self.gate.admit(
            dataset,
            fields,
            preference,
            subject=subject,
            visitor_hash=visitor_hash,
            grant=grant,
            ts=ts,
        )
        if admission.record is not None:
            self.store.insert_events([self._row(admission.record)])
        return admission

    def record_many(self, events: Iterable[Event]) -> BatchResult:
        """Gate every event, then store the admitted ones in one transaction.

        A refused event is reported with its index and does not stop the
        others; nothing of it is stored. This is the ingest hot path: the
        batch is checked and written to JSON column by column
        (:meth:`Gate.check_json_many`) and stored in the order given.
        Events without a time get the time the batch was checked at.
        """
        batch = events if isinstance(events, list | tuple) else list(events)
        gated = self.gate.check_json_many(batch)
        if gated.sealed:
            rows, refused, withheld = self._with_sealed(batch, gated, self._rows(gated))
            if rows:
                self.store.insert_events(rows)
            return BatchResult(len(rows), withheld, tuple(refused))
        if gated.index:
            self._insert(gated)
        return BatchResult(len(gated.index), gated.withheld, tuple(gated.refused))

    def _insert(self, gated: GatedBatch) -> int:
        """Store the gate's columns as they are, each row with its decision id."""
        dids = self._decision_ids(gated.plans)
        return self.store.insert_columns(
            gated.datasets,
            gated.ts,
            gated.subjects,
            gated.visitor_hashes,
            list(map(dids.__getitem__, map(id, gated.plans))),
            gated.fields,
        )

    def _rows(self, gated: GatedBatch) -> list[EventRow]:
        """The gate's columns as rows, for batches with rows sealed one by one."""
        dids = self._decision_ids(gated.plans)
        return list(
            zip(  # type: ignore[arg-type]
                repeat(self.store.site),
                gated.datasets,
                gated.ts,
                gated.subjects,
                gated.visitor_hashes,
                map(dids.__getitem__, map(id, gated.plans)),
                gated.fields,
            )
        )

    def _decision_ids(self, plans: list[Plan]) -> dict[int, int]:
        """The stored decision id of each distinct plan, by the plan's id."""
        ids = self._plan_ids
        out: dict[int, int] = {}
        for pid, plan in dict(zip(map(id, plans), plans, strict=True)).items():
            hit = ids.get(pid)
            if hit is None or hit[0] is not plan:
                if len(ids) > 4096:
                    ids.clear()
                hit = ids[pid] = (plan, self.decision_id(plan.explanation))
            out[pid] = hit[1]
        return out

    def _with_sealed(
        self, batch: Sequence[Event], gated: GatedBatch, rows: list[EventRow]
    ) -> tuple[list[EventRow], list[tuple[int, GateError]], int]:
        """Add the events with sensitive fields, sealed, in batch order."""
        placed: list[tuple[int, EventRow]] = list(zip(gated.index, rows, strict=True))
        refused = list(gated.refused)
        withheld = gated.withheld
        for i in gated.sealed:
            e = batch[i]
            try:
                record = self.gate.check(
                    e[0], e[1], e[2], subject=e[3], visitor_hash=e[4], grant=e[5], ts=e[6]
                )
            except GateError as exc:
                refused.append((i, exc))
                continue
            if record is None:
                withheld += 1
                continue
            try:
                placed.append((i, self._row(record)))
            except CryptoError as exc:  # one value the sealer refuses: that event alone
                refused.append((i, GateError(str(exc), field="fields", dataset=e[0])))
        placed.sort(key=itemgetter(0))
        refused.sort(key=itemgetter(0))
        return [row for _, row in placed], refused, withheld

    def record_rows(
        self,
        dataset: str,
        rows: Sequence[dict[str, object]],
        preference: Preference,
        *,
        grant: ExceptionScope | None = None,
    ) -> int:
        """A subject-less batch sharing one preference (a log shipper's batch).

        All or nothing: a refused row raises :class:`GateError` naming its
        index and nothing of the batch is stored.
        """
        batch = [Event(dataset, row, preference, None, None, grant) for row in rows]
        gated = self.gate.check_json_many(batch)
        if gated.refused:
            i, exc = gated.refused[0]
            raise GateError(f"row {i}: {exc.message}", field=exc.field or "", dataset=dataset)
        if gated.sealed:  # the gate keeps sensitive fields only with a subject
            raise LedgerError(f"{dataset}: sensitive fields without a subject")
        return self._insert(gated) if gated.index else 0
