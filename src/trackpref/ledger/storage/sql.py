"""The SQL both backends share, written once.

SQLite and PostgreSQL differ in connection handling, bulk loading, JSON
operators and placeholders; everything else (the queries that keep sites
apart, the evidence tables, the outbox) is the same text. Queries are written
with ``?`` placeholders; the PostgreSQL backend rewrites them to ``%s``. No
query interpolates a value: names that reach SQL text (column lists, table
names, the columns of an update) come from constants and fixed whitelists in
this module, which is what each ``noqa: S608`` below marks.
"""

from __future__ import annotations

import abc
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from .base import (
    TABLES,
    AuditEntry,
    Consent,
    DropItem,
    OutboxItem,
    PurgeEntry,
    RightsRequest,
    Store,
    StoredEvent,
    StoreError,
    Subject,
    Verification,
    decode_fields,
)

__all__ = ["SQLStore", "Shared", "field_name"]

_REQUEST_COLUMNS = frozenset(
    {"status", "verified_at", "completed_at", "subject_ref", "email", "detail", "due_at"}
)
_OUTBOX_COLUMNS = frozenset(
    {"attempts", "next_attempt_at", "status", "last_error", "delivered_at", "payload"}
)
#: Request columns that hold an identity: overwriting one is erasing it.
_IDENTITY_COLUMNS = frozenset({"subject_ref", "email", "detail"})
_HASH_COLUMNS = {"email": "email_hash", "phone": "phone_hash"}
_EVENT_COLUMNS = (
    "e.id, e.dataset, e.ts, e.subject_ref, e.visitor_hash, e.fields, "
    "d.purposes, d.recipients, d.preference, e.decision_id"
)


class Shared:
    """What sibling stores (one per site) share: the connection and its lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
        self.decisions: dict[tuple[str, str], int] = {}
        self.closed = False
        #: Tables whose deleted bytes may still sit in the database's files.
        self.scrub_tables: set[str] = set()
        #: A deletion ran inside the open transaction: scrub once it commits.
        self.scrub_due = False


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _loads(value: object) -> Any:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value  # already decoded (PostgreSQL jsonb)


class SQLStore(Store):
    """A :class:`Store` over a DB-API connection; backends fill in the primitives."""

    def __init__(self, site: str, url: str, shared: Shared) -> None:
        if not isinstance(site, str) or not site or len(site) > 253 or not site.isprintable():
            raise StoreError(f"site must be a non-empty printable name, not {site!r}")
        self.site = site
        self.url = url
        self._shared = shared

    # -- primitives the backends provide -----------------------------------
    @abc.abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    @abc.abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abc.abstractmethod
    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT (without RETURNING) and return the new row's id."""

    @abc.abstractmethod
    def _keys_execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    @abc.abstractmethod
    def _keys_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abc.abstractmethod
    def _begin(self) -> None: ...

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def _rollback(self) -> None: ...

    @abc.abstractmethod
    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    # -- transactions --------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        return _Transaction(self)

    def snapshot(self) -> AbstractContextManager[None]:
        """A transaction for reads only: they all see one state of the database.

        On SQLite it takes no write lock, so other processes' writers go on.
        """
        return _Transaction(self, read_only=True)

    def _begin_read(self) -> None:
        self._begin()

    # -- tables of an extension ------------------------------------------------
    # An application that keeps tables of its own beside the ledger's (the
    # collection service's tallies, secrets, job runs) needs them written in the
    # ledger's transactions, so that its rows and the ledger's commit together.
    # ``?`` placeholders on both backends; inside ``transaction()`` the
    # statements join it.
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        return self._execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row, in one round trip where the driver can."""
        if rows:
            self._executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query; all its rows."""
        return self._query(sql, params)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert rows into an extension table in as few statements as the backend allows.

        ``table`` and ``columns`` are the caller's own names, never input.
        """
        if any(len(row) != len(columns) for row in rows):
            raise StoreError(f"{table}: every row must have {len(columns)} values")
        if rows:
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            self._executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608

    def _check_open(self) -> None:
        if self._shared.closed:
            raise StoreError(f"the store {self.url} is closed")

    # -- erasure -------------------------------------------------------------
    def _erase(self, table: str, sql: str, params: Sequence[Any]) -> int:
        """Run a statement that deletes or overwrites personal data in ``table``.

        Under the lock, so that "is a transaction open?" is still true when
        the store decides whether to scrub now or after the commit.
        """
        with self._shared.lock:
            changed = self._execute(sql, params)
            if changed:
                self._note_erased(table)
        return changed

    def _note_erased(self, table: str) -> None:
        """Remember that ``table`` lost data; scrub now, or once the transaction commits.

        A checkpoint cannot include what is not committed yet, so inside a
        transaction this only sets ``scrub_due`` for :class:`_Transaction`.
        """
        shared = self._shared
        with shared.lock:
            shared.scrub_tables.add(table)
            if shared.depth:
                shared.scrub_due = True
            else:
                self._after_erase()

    def _after_erase(self) -> None:
        """Called with the lock held once a deletion has committed.

        SQLite scrubs at once (a checkpoint costs milliseconds); PostgreSQL
        leaves it to :meth:`scrub_deleted`, which a job calls.
        """

    @property
    def scrub_pending(self) -> bool:
        return bool(self._shared.scrub_tables)

    def schema_version(self) -> int:
        rows = self._query("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    # -- events --------------------------------------------------------------
    def put_decision(
        self,
        *,
        dataset: str,
        preference: str,
        purposes: Sequence[str],
        recipients: Sequence[str],
        explanation: Mapping[str, Any],
    ) -> int:
        body = _json(
            {
                "dataset": dataset,
                "preference": preference,
                "purposes": list(purposes),
                "recipients": list(recipients),
                "explanation": explanation,
            }
        )
        digest = hashlib.sha256(body.encode()).hexdigest()
        key = (self.site, digest)
        found = self._shared.decisions.get(key)
        if found is not None:
            return found
        with self.transaction():
            self._execute(
                "INSERT INTO decisions (site, digest, dataset, preference, purposes, recipients, "
                "explanation) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, digest) DO NOTHING",
                (
                    self.site,
                    digest,
                    dataset,
                    preference,
                    _json(list(purposes)),
                    _json(list(recipients)),
                    _json(explanation),
                ),
            )
            rows = self._query(
                "SELECT id FROM decisions WHERE site = ? AND digest = ?", (self.site, digest)
            )
        decision_id = int(rows[0][0])
        self._shared.decisions[key] = decision_id
        return decision_id

    def decision(self, decision_id: int) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT dataset, preference, purposes, recipients, explanation FROM decisions "
            "WHERE site = ? AND id = ?",
            (self.site, decision_id),
        )
        if not rows:
            return None
        dataset, preference, purposes, recipients, explanation = rows[0]
        return {
            "id": decision_id,
            "dataset": dataset,
            "preference": preference,
            "purposes": _loads(purposes),
            "recipients": _loads(recipients),
            "explanation": _loads(explanation),
        }

    def _event(self, row: tuple[Any, ...]) -> StoredEvent:
        return StoredEvent(
            id=int(row[0]),
            dataset=row[1],
            ts=float(row[2]),
            subject_ref=row[3],
            visitor_hash=row[4],
            fields=decode_fields(row[5]),
            purposes=tuple(_loads(row[6])),
            recipients=tuple(_loads(row[7])),
            preference=row[8],
            decision_id=int(row[9]),
        )

    def events_for_subject(self, subject_ref: str) -> list[StoredEvent]:
        rows = self._query(
            f"SELECT {_EVENT_COLUMNS} FROM events e JOIN decisions d "  # noqa: S608
            "ON d.id = e.decision_id AND d.site = e.site "
            "WHERE e.site = ? AND e.subject_ref = ? ORDER BY e.ts, e.id",
            (self.site, subject_ref),
        )
        return [self._event(r) for r in rows]

    def iter_events(
        self,
        dataset: str,
        *,
        since: float | None = None,
        before: float | None = None,
        batch_size: int = 10_000,
    ) -> Iterator[StoredEvent]:
        lo = float("-inf") if since is None else since
        hi = float("inf") if before is None else before
        last_ts, last_id = lo, -1
        first = True
        while True:
            rows = self._query(
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN decisions d "  # noqa: S608
                "ON d.id = e.decision_id AND d.site = e.site "
                "WHERE e.site = ? AND e.dataset = ? AND e.ts < ? AND "
                + ("e.ts >= ? " if first else "(e.ts > ? OR (e.ts = ? AND e.id > ?)) ")
                + "ORDER BY e.ts, e.id LIMIT ?",
                (self.site, dataset, _finite(hi), _finite(last_ts), batch_size)
                if first
                else (self.site, dataset, _finite(hi), last_ts, last_ts, last_id, batch_size),
            )
            first = False
            for row in rows:
                yield self._event(row)
            if len(rows) < batch_size:
                return
            last_ts, last_id = float(rows[-1][2]), int(rows[-1][0])

    def count_events(self, dataset: str | None = None) -> int:
        if dataset is None:
            rows = self._query("SELECT COUNT(*) FROM events WHERE site = ?", (self.site,))
        else:
            rows = self._query(
                "SELECT COUNT(*) FROM events WHERE site = ? AND dataset = ?", (self.site, dataset)
            )
        return int(rows[0][0])

    def update_event_fields(self, event_id: int, fields: str) -> bool:
        # A correction overwrites the old value: it is erased like a deletion.
        return (
            self._erase(
                "events",
                "UPDATE events SET fields = ? WHERE site = ? AND id = ?",
                (fields, self.site, event_id),
            )
            > 0
        )

    def delete_events(self, dataset: str, *, before: float) -> int:
        return self._erase(
            "events",
            "DELETE FROM events WHERE site = ? AND dataset = ? AND ts < ?",
            (self.site, dataset, _finite(before)),
        )

    def delete_subject_events(self, subject_ref: str) -> int:
        return self._erase(
            "events",
            "DELETE FROM events WHERE site = ? AND subject_ref = ?",
            (self.site, subject_ref),
        )

    def datasets(self) -> list[str]:
        # A skip scan over the (site, dataset, ts) index: one probe per
        # dataset, where DISTINCT would read every row of a large table.
        rows = self._query(
            "WITH RECURSIVE d (name) AS ("
            "SELECT MIN(dataset) FROM events WHERE site = ? "
            "UNION ALL SELECT (SELECT MIN(dataset) FROM events WHERE site = ? "
            "AND dataset > d.name) FROM d WHERE d.name IS NOT NULL"
            ") SELECT name FROM d WHERE name IS NOT NULL",
            (self.site, self.site),
        )
        return sorted(str(r[0]) for r in rows)  # the same order whatever the collation

    def oldest_event(self, dataset: str, *, having: str | None = None) -> float | None:
        if having is None:
            rows = self._query(
                "SELECT MIN(ts) FROM events WHERE site = ? AND dataset = ?", (self.site, dataset)
            )
            return None if rows[0][0] is None else float(rows[0][0])
        condition, param = self._has_field(having)
        rows = self._query(
            "SELECT ts FROM events WHERE site = ? AND dataset = ? AND "  # noqa: S608
            + condition
            + " ORDER BY ts LIMIT 1",
            (self.site, dataset, param),
        )
        return float(rows[0][0]) if rows else None

    @abc.abstractmethod
    def _has_field(self, name: str) -> tuple[str, str]:
        """SQL that is true when ``fields`` holds ``name``, and its parameter."""

    # -- subjects ------------------------------------------------------------
    def upsert_subject(self, subject: Subject) -> None:
        self._execute(
            "INSERT INTO subjects (site, subject_id, email, phone, email_hash, phone_hash, "
            "created_at, opted_out_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (site, subject_id) DO UPDATE SET email = excluded.email, "
            "phone = excluded.phone, email_hash = excluded.email_hash, "
            "phone_hash = excluded.phone_hash, opted_out_at = excluded.opted_out_at",
            (
                self.site,
                subject.subject_id,
                subject.email,
                subject.phone,
                subject.email_hash,
                subject.phone_hash,
                subject.created_at,
                subject.opted_out_at,
            ),
        )

    _SUBJECT = "subject_id, email, phone, email_hash, phone_hash, created_at, opted_out_at"

    @staticmethod
    def _subject(row: tuple[Any, ...]) -> Subject:
        return Subject(
            subject_id=row[0],
            email=row[1],
            phone=row[2],
            email_hash=row[3],
            phone_hash=row[4],
            created_at=float(row[5]),
            opted_out_at=None if row[6] is None else float(row[6]),
        )

    def get_subject(self, subject_id: str) -> Subject | None:
        rows = self._query(
            f"SELECT {self._SUBJECT} FROM subjects WHERE site = ? AND subject_id = ?",  # noqa: S608
            (self.site, subject_id),
        )
        return self._subject(rows[0]) if rows else None

    def subjects_by_email(self, email: str) -> list[Subject]:
        rows = self._query(
            f"SELECT {self._SUBJECT} FROM subjects WHERE site = ? AND email = ? "  # noqa: S608
            "ORDER BY subject_id",
            (self.site, email),
        )
        return [self._subject(r) for r in rows]

    def subjects_by_hash(self, kind: str, hashes: Sequence[str]) -> dict[str, list[str]]:
        column = _HASH_COLUMNS.get(kind)
        if column is None:
            raise StoreError(f"unknown identifier kind {kind!r} (email or phone)")
        found: dict[str, list[str]] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self._query(
                f"SELECT {column}, subject_id FROM subjects "  # noqa: S608
                f"WHERE site = ? AND {column} IN ({marks}) ORDER BY subject_id",
                (self.site, *chunk),
            )
            for h, sid in rows:
                found.setdefault(h, []).append(sid)
        return found

    def set_opt_out(self, subject_id: str, at: float | None) -> bool:
        return (
            self._execute(
                "UPDATE subjects SET opted_out_at = ? WHERE site = ? AND subject_id = ?",
                (at, self.site, subject_id),
            )
            > 0
        )

    def delete_subject(self, subject_id: str) -> bool:
        return (
            self._erase(
                "subjects",
                "DELETE FROM subjects WHERE site = ? AND subject_id = ?",
                (self.site, subject_id),
            )
            > 0
        )

    def count_subjects(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM subjects WHERE site = ?", (self.site,))[0][0])

    # -- consents ------------------------------------------------------------
    def add_consent(self, consent: Consent) -> int:
        return self._insert_id(
            "INSERT INTO consents (site, subject_ref, kind, targets, purposes, granted_at, "
            "expires_at, withdrawn_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.site,
                consent.subject_ref,
                consent.kind,
                _json(list(consent.targets)),
                None if consent.purposes is None else _json(list(consent.purposes)),
                consent.granted_at,
                consent.expires_at,
                consent.withdrawn_at,
                consent.source,
            ),
        )

    def consents_for(self, subject_ref: str) -> list[Consent]:
        rows = self._query(
            "SELECT id, subject_ref, kind, targets, purposes, granted_at, expires_at, "
            "withdrawn_at, source FROM consents WHERE site = ? AND subject_ref = ? ORDER BY id",
            (self.site, subject_ref),
        )
        return [
            Consent(
                id=int(r[0]),
                subject_ref=r[1],
                kind=r[2],
                targets=tuple(_loads(r[3])),
                purposes=None if r[4] is None else tuple(_loads(r[4])),
                granted_at=float(r[5]),
                expires_at=None if r[6] is None else float(r[6]),
                withdrawn_at=None if r[7] is None else float(r[7]),
                source=r[8],
            )
            for r in rows
        ]

    def withdraw_consent(self, consent_id: int, at: float) -> bool:
        return (
            self._execute(
                "UPDATE consents SET withdrawn_at = ? WHERE site = ? AND id = ? "
                "AND withdrawn_at IS NULL",
                (at, self.site, consent_id),
            )
            > 0
        )

    def delete_consents_for(self, subject_ref: str) -> int:
        return self._erase(
            "consents",
            "DELETE FROM consents WHERE site = ? AND subject_ref = ?",
            (self.site, subject_ref),
        )

    # -- rights requests -----------------------------------------------------
    _REQUEST = (
        "id, kind, regime, status, received_at, due_at, subject_ref, email, verified_at, "
        "completed_at, detail"
    )

    @staticmethod
    def _request(r: tuple[Any, ...]) -> RightsRequest:
        return RightsRequest(
            id=r[0],
            kind=r[1],
            regime=r[2],
            status=r[3],
            received_at=float(r[4]),
            due_at=float(r[5]),
            subject_ref=r[6],
            email=r[7],
            verified_at=None if r[8] is None else float(r[8]),
            completed_at=None if r[9] is None else float(r[9]),
            detail=_loads(r[10]) or {},
        )

    def create_request(self, request: RightsRequest) -> None:
        self._execute(
            f"INSERT INTO rights_requests (site, {self._REQUEST}) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.site,
                request.id,
                request.kind,
                request.regime,
                request.status,
                request.received_at,
                request.due_at,
                request.subject_ref,
                request.email,
                request.verified_at,
                request.completed_at,
                _json(request.detail),
            ),
        )

    def get_request(self, request_id: str) -> RightsRequest | None:
        rows = self._query(
            f"SELECT {self._REQUEST} FROM rights_requests WHERE site = ? AND id = ?",  # noqa: S608
            (self.site, request_id),
        )
        return self._request(rows[0]) if rows else None

    def update_request(self, request_id: str, **changes: Any) -> bool:
        # Clearing a request's e-mail, subject or detail is erasing an identity.
        erases = not _IDENTITY_COLUMNS.isdisjoint(changes)
        return self._update("rights_requests", _REQUEST_COLUMNS, "id", request_id, changes, erases)

    def _update(
        self,
        table: str,
        allowed: frozenset[str],
        key: str,
        key_value: object,
        changes: dict[str, Any],
        erases: bool = False,
    ) -> bool:
        bad = set(changes) - allowed
        if bad:
            raise StoreError(f"{table}: cannot change {', '.join(sorted(bad))}")
        if not changes:
            return False
        cols = sorted(changes)
        values = [_json(changes[c]) if c == "detail" else changes[c] for c in cols]
        sets = ", ".join(f"{c} = ?" for c in cols)
        sql = f"UPDATE {table} SET {sets} WHERE site = ? AND {key} = ?"  # noqa: S608
        params = (*values, self.site, key_value)
        if erases:
            return self._erase(table, sql, params) > 0
        return self._execute(sql, params) > 0

    def requests_for(self, subject_ref: str) -> list[RightsRequest]:
        rows = self._query(
            f"SELECT {self._REQUEST} FROM rights_requests WHERE site = ? AND subject_ref = ? "  # noqa: S608
            "ORDER BY received_at, id",
            (self.site, subject_ref),
        )
        return [self._request(r) for r in rows]

    def open_requests(self) -> list[RightsRequest]:
        rows = self._query(
            f"SELECT {self._REQUEST} FROM rights_requests WHERE site = ? "  # noqa: S608
            "AND status NOT IN ('completed', 'rejected', 'expired') ORDER BY due_at, id",
            (self.site,),
        )
        return [self._request(r) for r in rows]

    def put_verification(self, verification: Verification) -> None:
        self._execute(
            "INSERT INTO verifications (site, request_id, code_hash, expires_at, attempts, "
            "used_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site, request_id) DO UPDATE SET "
            "code_hash = excluded.code_hash, expires_at = excluded.expires_at, "
            "attempts = excluded.attempts, used_at = excluded.used_at",
            (
                self.site,
                verification.request_id,
                verification.code_hash,
                verification.expires_at,
                verification.attempts,
                verification.used_at,
            ),
        )

    def get_verification(self, request_id: str) -> Verification | None:
        rows = self._query(
            "SELECT request_id, code_hash, expires_at, attempts, used_at FROM verifications "
            "WHERE site = ? AND request_id = ?",
            (self.site, request_id),
        )
        if not rows:
            return None
        r = rows[0]
        return Verification(
            r[0], r[1], float(r[2]), int(r[3]), None if r[4] is None else float(r[4])
        )

    def count_attempt(self, request_id: str) -> int:
        with self.transaction():
            self._execute(
                "UPDATE verifications SET attempts = attempts + 1 "
                "WHERE site = ? AND request_id = ?",
                (self.site, request_id),
            )
            rows = self._query(
                "SELECT attempts FROM verifications WHERE site = ? AND request_id = ?",
                (self.site, request_id),
            )
        return int(rows[0][0]) if rows else 0

    def use_verification(self, request_id: str, at: float) -> bool:
        return (
            self._execute(
                "UPDATE verifications SET used_at = ? WHERE site = ? AND request_id = ? "
                "AND used_at IS NULL",
                (at, self.site, request_id),
            )
            == 1
        )

    def delete_verification(self, request_id: str) -> bool:
        return (
            self._execute(
                "DELETE FROM verifications WHERE site = ? AND request_id = ?",
                (self.site, request_id),
            )
            > 0
        )

    # -- evidence ------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> int:
        return self._insert_id(
            "INSERT INTO audit_log (site, ts, action, request_id, actor, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.site, entry.ts, entry.action, entry.request_id, entry.actor, _json(entry.detail)),
        )

    def audit_entries(self, *, request_id: str | None = None) -> list[AuditEntry]:
        sql = "SELECT id, ts, action, request_id, actor, detail FROM audit_log WHERE site = ?"
        params: tuple[Any, ...] = (self.site,)
        if request_id is not None:
            sql += " AND request_id = ?"
            params = (self.site, request_id)
        rows = self._query(sql + " ORDER BY id", params)
        return [
            AuditEntry(
                id=int(r[0]),
                ts=float(r[1]),
                action=r[2],
                request_id=r[3],
                actor=r[4],
                detail=_loads(r[5]) or {},
            )
            for r in rows
        ]

    def append_purge(self, entry: PurgeEntry) -> int:
        return self._insert_id(
            "INSERT INTO purge_log (site, ts, dataset, field, rows_deleted, cutoff, retention) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.site,
                entry.ts,
                entry.dataset,
                entry.field,
                entry.rows,
                entry.cutoff,
                entry.retention,
            ),
        )

    def purges(self, dataset: str | None = None) -> list[PurgeEntry]:
        sql = (
            "SELECT id, ts, dataset, field, rows_deleted, cutoff, retention FROM purge_log "
            "WHERE site = ?"
        )
        params: tuple[Any, ...] = (self.site,)
        if dataset is not None:
            sql += " AND dataset = ?"
            params = (self.site, dataset)
        rows = self._query(sql + " ORDER BY id", params)
        return [
            PurgeEntry(
                id=int(r[0]),
                ts=float(r[1]),
                dataset=r[2],
                field=r[3],
                rows=int(r[4]),
                cutoff=float(r[5]),
                retention=r[6],
            )
            for r in rows
        ]

    def purge_records(self, before: float) -> dict[str, int]:
        at = _finite(before)
        site = self.site
        # Requests first: the audit entries of a request go with it, never
        # before it (a request still open keeps its whole trail).
        statements: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
            (
                "rights_requests",
                "DELETE FROM rights_requests WHERE site = ? "
                "AND status IN ('completed', 'rejected', 'expired') AND completed_at < ?",
                (site, at),
            ),
            (
                "verifications",
                # A code outliving its request (the request is created first).
                "DELETE FROM verifications WHERE site = ? AND NOT EXISTS (SELECT 1 FROM "
                "rights_requests r WHERE r.site = verifications.site "
                "AND r.id = verifications.request_id)",
                (site,),
            ),
            (
                "audit_log",
                "DELETE FROM audit_log WHERE site = ? AND ts < ? AND (request_id IS NULL OR "
                "NOT EXISTS (SELECT 1 FROM rights_requests r WHERE r.site = audit_log.site "
                "AND r.id = audit_log.request_id))",
                (site, at),
            ),
            ("purge_log", "DELETE FROM purge_log WHERE site = ? AND ts < ?", (site, at)),
            (
                "webhook_outbox",
                # A notice ends days after it was queued (delivered, or given
                # up after its last attempt): its age counts from the queueing.
                "DELETE FROM webhook_outbox WHERE site = ? AND status <> 'pending' "
                "AND created_at < ?",
                (site, at),
            ),
            (
                "consents",
                "DELETE FROM consents WHERE site = ? AND (withdrawn_at < ? OR expires_at < ?)",
                (site, at, at),
            ),
        )
        out: dict[str, int] = {}
        with self.transaction():
            for table, sql, params in statements:
                out[table] = self._erase(table, sql, params)
        return out

    # -- outbox --------------------------------------------------------------
    def enqueue_webhook(
        self, *, request_id: str | None, recipient: str, url: str, payload: str, at: float
    ) -> int:
        return self._insert_id(
            "INSERT INTO webhook_outbox (site, request_id, recipient, url, payload, attempts, "
            "next_attempt_at, status, last_error, created_at, delivered_at) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, 'pending', NULL, ?, NULL)",
            (self.site, request_id, recipient, url, payload, at, at),
        )

    _OUTBOX = (
        "id, request_id, recipient, url, payload, attempts, next_attempt_at, status, "
        "last_error, created_at, delivered_at"
    )

    @staticmethod
    def _outbox(r: tuple[Any, ...]) -> OutboxItem:
        return OutboxItem(
            id=int(r[0]),
            request_id=r[1],
            recipient=r[2],
            url=r[3],
            payload=r[4],
            attempts=int(r[5]),
            next_attempt_at=float(r[6]),
            status=r[7],
            last_error=r[8],
            created_at=float(r[9]),
            delivered_at=None if r[10] is None else float(r[10]),
        )

    def due_webhooks(self, now: float, limit: int = 100) -> list[OutboxItem]:
        rows = self._query(
            f"SELECT {self._OUTBOX} FROM webhook_outbox WHERE site = ? AND status = 'pending' "  # noqa: S608
            "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (self.site, now, limit),
        )
        return [self._outbox(r) for r in rows]

    def outbox(self, request_id: str | None = None) -> list[OutboxItem]:
        sql = f"SELECT {self._OUTBOX} FROM webhook_outbox WHERE site = ?"  # noqa: S608
        params: tuple[Any, ...] = (self.site,)
        if request_id is not None:
            sql += " AND request_id = ?"
            params = (self.site, request_id)
        return [self._outbox(r) for r in self._query(sql + " ORDER BY id", params)]

    def update_webhook(self, item_id: int, **changes: Any) -> bool:
        # The payload holds a subject reference and identifier hashes until scrubbed.
        erases = "payload" in changes
        return self._update("webhook_outbox", _OUTBOX_COLUMNS, "id", item_id, changes, erases)

    # -- DROP ----------------------------------------------------------------
    def record_drop_item(self, item: DropItem) -> None:
        self._execute(
            "INSERT INTO drop_items (site, list_name, item_id, status, processed_at, batch) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site, list_name, item_id) DO UPDATE SET "
            "status = excluded.status, processed_at = excluded.processed_at, "
            "batch = excluded.batch",
            (self.site, item.list_name, item.item_id, item.status, item.processed_at, item.batch),
        )

    def drop_items(self, *, batch: str | None = None) -> list[DropItem]:
        sql = (
            "SELECT list_name, item_id, status, processed_at, batch FROM drop_items WHERE site = ?"
        )
        params: tuple[Any, ...] = (self.site,)
        if batch is not None:
            sql += " AND batch = ?"
            params = (self.site, batch)
        rows = self._query(sql + " ORDER BY list_name, item_id", params)
        return [DropItem(r[0], r[1], int(r[2]), float(r[3]), r[4]) for r in rows]

    # -- salts ---------------------------------------------------------------
    def ensure_salt(self, window: str, candidate: bytes) -> bytes:
        with self.transaction():
            self._execute(
                "INSERT INTO salts (site, salt_window, salt) VALUES (?, ?, ?) "
                "ON CONFLICT (site, salt_window) DO NOTHING",
                (self.site, window, bytes(candidate)),
            )
            rows = self._query(
                "SELECT salt FROM salts WHERE site = ? AND salt_window = ?", (self.site, window)
            )
        return bytes(rows[0][0])

    def get_salt(self, window: str) -> bytes | None:
        rows = self._query(
            "SELECT salt FROM salts WHERE site = ? AND salt_window = ?", (self.site, window)
        )
        return bytes(rows[0][0]) if rows else None

    def destroy_salts_before(self, window: str) -> int:
        # A destroyed salt left on a free page would re-link the visitor hashes.
        return self._erase(
            "salts", "DELETE FROM salts WHERE site = ? AND salt_window < ?", (self.site, window)
        )

    # -- keys ----------------------------------------------------------------
    def get_key(self, subject_id: str) -> bytes | None:
        rows = self._keys_query(
            "SELECT key_bytes FROM subject_keys WHERE site = ? AND subject_id = ?",
            (self.site, subject_id),
        )
        return bytes(rows[0][0]) if rows else None

    def put_key(self, subject_id: str, key: bytes) -> None:
        self._keys_execute(
            "INSERT INTO subject_keys (site, subject_id, key_bytes) VALUES (?, ?, ?) "
            "ON CONFLICT (site, subject_id) DO NOTHING",
            (self.site, subject_id, bytes(key)),
        )

    def destroy_key(self, subject_id: str) -> bool:
        return (
            self._keys_execute(
                "DELETE FROM subject_keys WHERE site = ? AND subject_id = ?",
                (self.site, subject_id),
            )
            > 0
        )

    # -- audits --------------------------------------------------------------
    def rows(self, table: str) -> list[tuple[Any, ...]]:
        if table == "keys":
            return self._keys_query(
                "SELECT * FROM subject_keys WHERE site = ? ORDER BY subject_id", (self.site,)
            )
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; tables: {', '.join(TABLES)}, keys")
        return self._query(f"SELECT * FROM {table} WHERE site = ?", (self.site,))  # noqa: S608


def field_name(name: str) -> str:
    """An inventory field name (``[a-z][a-z0-9_]*``), or :class:`StoreError`."""
    if not (
        isinstance(name, str)
        and name.isascii()
        and name[:1].isalpha()
        and name.replace("_", "a").isalnum()
        and name == name.lower()
    ):
        raise StoreError(f"{name!r} is not a field name")
    return name


def _finite(value: float) -> float:
    """Infinite bounds as the largest floats (PostgreSQL compares them fine, SQLite too)."""
    if value == float("inf"):
        return 1.7976931348623157e308
    if value == float("-inf"):
        return -1.7976931348623157e308
    return value


class _Transaction(AbstractContextManager[None]):
    def __init__(self, store: SQLStore, *, read_only: bool = False) -> None:
        self.store = store
        self.read_only = read_only

    def __enter__(self) -> None:
        shared = self.store._shared
        shared.lock.acquire()
        try:
            self.store._check_open()
            if shared.depth == 0:
                if self.read_only:
                    self.store._begin_read()
                else:
                    self.store._begin()
            shared.depth += 1
        except BaseException:
            shared.lock.release()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        shared = self.store._shared
        try:
            shared.depth -= 1
            if shared.depth == 0:
                due, shared.scrub_due = shared.scrub_due, False
                if exc_type is None:
                    self.store._commit()
                    if due:
                        self.store._after_erase()
                else:
                    self.store._rollback()
        finally:
            shared.lock.release()
