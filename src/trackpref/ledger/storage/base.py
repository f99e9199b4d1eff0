"""The one storage interface every backend implements.

A :class:`Store` is bound to one site: every query it runs is filtered by that
site, and no query joins rows of two sites, so one site's data can never leak
into another's export, rollup or deletion. A service that hosts several sites
opens one store per site, or derives siblings with :meth:`Store.for_site`
(they share the connection).

The store also implements ledger B's two key-material protocols:
``KeyStore`` (``get_key`` / ``put_key`` / ``destroy_key``) and ``SaltStore``
(``ensure_salt`` / ``get_salt`` / ``destroy_salts_before``). Subject keys are
never kept next to the data: SQLite puts them in a separate file
(``<db>.keys``) and PostgreSQL in a separately configured database or schema,
so that a backup of the data holds no key and deleting a key makes every
earlier copy of that subject's sensitive fields unreadable.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import repeat
from json.encoder import encode_basestring_ascii
from operator import eq, itemgetter
from types import TracebackType
from typing import Any, NamedTuple, Self, cast

__all__ = [
    "TABLES",
    "AuditEntry",
    "Consent",
    "DropItem",
    "EventRow",
    "OutboxItem",
    "PurgeEntry",
    "RightsRequest",
    "Store",
    "StoreError",
    "StoredEvent",
    "Subject",
    "Verification",
    "decode_fields",
    "encode_fields",
]

#: Every table of the data database (the key table lives elsewhere).
TABLES = (
    "events",
    "decisions",
    "subjects",
    "consents",
    "rights_requests",
    "verifications",
    "audit_log",
    "purge_log",
    "salts",
    "webhook_outbox",
    "drop_items",
)


class StoreError(RuntimeError):
    """The store cannot do what was asked (bad URL, newer schema, closed)."""


class EventRow(NamedTuple):
    """One row for :meth:`Store.insert_events`, ready to write.

    ``site`` must be the store's own site (the store refuses the batch
    otherwise); it is part of the row so that a batch goes to the database
    as is. ``fields`` is JSON text (see :func:`encode_fields`);
    ``decision_id`` refers to the explanation stored once with
    :meth:`Store.put_decision`.
    """

    site: str
    dataset: str
    ts: float
    subject_ref: str | None
    visitor_hash: str | None
    decision_id: int
    fields: str


_EVENT_ROW_LENGTH = len(EventRow._fields)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    dataset: str
    ts: float
    subject_ref: str | None
    visitor_hash: str | None
    fields: dict[str, Any]
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]
    preference: str
    decision_id: int


@dataclass(frozen=True, slots=True)
class Subject:
    subject_id: str
    email: str | None = None
    phone: str | None = None
    #: DROP-standardized SHA-256 hex of the e-mail and phone, for matching.
    email_hash: str | None = None
    phone_hash: str | None = None
    created_at: float = 0.0
    opted_out_at: float | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent record or user-granted exception the site holds for a subject."""

    subject_ref: str
    kind: str  # "exception" | "consent" | "opt-out"
    targets: tuple[str, ...] = ()
    purposes: tuple[str, ...] | None = None
    granted_at: float = 0.0
    expires_at: float | None = None
    withdrawn_at: float | None = None
    source: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RightsRequest:
    id: str
    kind: str  # access | correction | deletion | opt-out
    regime: str  # gdpr | ccpa
    status: str
    received_at: float
    due_at: float
    subject_ref: str | None = None
    email: str | None = None
    verified_at: float | None = None
    completed_at: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verification:
    request_id: str
    code_hash: str
    expires_at: float
    attempts: int = 0
    used_at: float | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts: float
    action: str
    request_id: str | None = None
    actor: str = "system"
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PurgeEntry:
    """Evidence of one retention purge."""

    ts: float
    dataset: str
    rows: int
    cutoff: float
    retention: str
    field: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    request_id: str | None
    recipient: str
    url: str
    payload: str
    attempts: int
    next_attempt_at: float
    status: str  # pending | delivered | failed
    last_error: str | None
    created_at: float
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class DropItem:
    list_name: str
    item_id: str
    status: int
    processed_at: float
    batch: str


def _bool(value: bool) -> str:
    return "true" if value else "false"


_FORMAT: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    float: float.__repr__,
    bool: _bool,
}


def encode_fields(fields: Mapping[str, object]) -> str:
    """JSON text for a gated record's fields.

    The gate has already checked every name (``[a-z][a-z0-9_]*``) and value
    (text, a finite number or a boolean), so this writes the JSON directly
    with the json module's own string escaper, about twice as fast as
    ``json.dumps``; anything unexpected falls back to ``json.dumps``.
    """
    try:
        return "{" + ",".join([f'"{k}":' + _FORMAT[type(v)](v) for k, v in fields.items()]) + "}"
    except KeyError:
        return json.dumps(fields, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def decode_fields(text: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(text, Mapping):  # PostgreSQL's jsonb arrives decoded
        return dict(text)
    value = json.loads(text)
    if not isinstance(value, dict):
        raise StoreError("an events row holds fields that are not a JSON object")
    return value


class Store(abc.ABC):
    """Storage for one site. All times are epoch seconds (floats)."""

    site: str
    url: str

    # -- lifecycle -----------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def for_site(self, site: str) -> Store:
        """A store for another site over the same connection."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group writes atomically; nested calls join the outer transaction."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- events --------------------------------------------------------------
    @abc.abstractmethod
    def put_decision(
        self,
        *,
        dataset: str,
        preference: str,
        purposes: Sequence[str],
        recipients: Sequence[str],
        explanation: Mapping[str, Any],
    ) -> int:
        """Store a gate explanation once and return its id (idempotent)."""

    @abc.abstractmethod
    def decision(self, decision_id: int) -> dict[str, Any] | None:
        """The stored explanation, for dashboards and audits."""

    @abc.abstractmethod
    def insert_events(self, rows: Sequence[EventRow]) -> int:
        """Append gated rows in one transaction; returns how many.

        Every row must carry this store's site: a row for another site
        refuses the whole batch (:class:`StoreError`), nothing is written.
        An empty subject reference or visitor hash is stored as none.
        """

    def insert_columns(
        self,
        datasets: Sequence[str],
        ts: Sequence[float],
        subjects: Sequence[str | None],
        visitor_hashes: Sequence[str | None],
        decision_ids: Sequence[int],
        fields: Sequence[str],
    ) -> int:
        """:meth:`insert_events` for rows given column by column, all of this site.

        What the ledger's batch path has in hand: backends write the columns
        without building a tuple per row. Columns of different lengths
        refuse the batch (:class:`StoreError`).
        """
        columns = (datasets, ts, subjects, visitor_hashes, decision_ids, fields)
        self._column_length(columns)
        rows = zip(repeat(self.site), *columns, strict=False)
        return self.insert_events(cast(list[EventRow], list(rows)))

    @staticmethod
    def _column_length(columns: Sequence[Sequence[object]]) -> int:
        lengths = set(map(len, columns))
        if len(lengths) > 1:
            raise StoreError(
                f"columns of different lengths ({sorted(lengths)}); "
                "nothing of the batch was written"
            )
        return lengths.pop()

    def _check_sites(self, rows: Sequence[EventRow]) -> None:
        """Refuse a batch with a row that is not seven values or not this site's."""
        site = self.site
        if set(map(len, rows)) <= {_EVENT_ROW_LENGTH} and all(
            map(eq, map(itemgetter(0), rows), repeat(site))
        ):
            return
        for i, r in enumerate(rows):
            if len(r) != _EVENT_ROW_LENGTH:
                raise StoreError(
                    f"row {i} has {len(r)} values instead of {_EVENT_ROW_LENGTH} "
                    f"({', '.join(EventRow._fields)}); nothing of the batch was written"
                )
            if r[0] != site:
                raise StoreError(
                    f"a row for site {r[0]!r} was sent to the store of {site!r}; "
                    "nothing of the batch was written"
                )

    @abc.abstractmethod
    def events_for_subject(self, subject_ref: str) -> list[StoredEvent]: ...

    @abc.abstractmethod
    def iter_events(
        self,
        dataset: str,
        *,
        since: float | None = None,
        before: float | None = None,
        batch_size: int = 10_000,
    ) -> Iterator[StoredEvent]:
        """Rows of one dataset in time order, ``since <= ts < before``."""

    @abc.abstractmethod
    def count_events(self, dataset: str | None = None) -> int: ...

    @abc.abstractmethod
    def update_event_fields(self, event_id: int, fields: str) -> bool:
        """Replace one row's fields (JSON text): corrections."""

    @abc.abstractmethod
    def delete_events(self, dataset: str, *, before: float) -> int:
        """Delete the rows of ``dataset`` older than ``before`` (retention, rollups)."""

    @abc.abstractmethod
    def strip_field(self, dataset: str, name: str, *, before: float) -> int:
        """Remove one field from rows older than ``before`` (field retention)."""

    @abc.abstractmethod
    def delete_subject_events(self, subject_ref: str) -> int: ...

    @abc.abstractmethod
    def oldest_event(self, dataset: str, *, having: str | None = None) -> float | None:
        """The time of the oldest row of ``dataset`` (that still holds field ``having``)."""

    @abc.abstractmethod
    def datasets(self) -> list[str]:
        """The datasets this site has rows of, sorted.

        Retention needs the ones the inventory no longer declares: they have
        no rule of their own, and their rows must not outlive the site's
        raw-log retention just because the declaration was dropped.
        """

    # -- subjects ------------------------------------------------------------
    @abc.abstractmethod
    def upsert_subject(self, subject: Subject) -> None: ...

    @abc.abstractmethod
    def get_subject(self, subject_id: str) -> Subject | None: ...

    @abc.abstractmethod
    def subjects_by_email(self, email: str) -> list[Subject]: ...

    @abc.abstractmethod
    def subjects_by_hash(self, kind: str, hashes: Sequence[str]) -> dict[str, list[str]]:
        """``kind`` is "email" or "phone"; maps each matched hash to subject ids."""

    @abc.abstractmethod
    def set_opt_out(self, subject_id: str, at: float | None) -> bool: ...

    @abc.abstractmethod
    def delete_subject(self, subject_id: str) -> bool: ...

    @abc.abstractmethod
    def count_subjects(self) -> int: ...

    # -- consents and exceptions -------------------------------------------
    @abc.abstractmethod
    def add_consent(self, consent: Consent) -> int: ...

    @abc.abstractmethod
    def consents_for(self, subject_ref: str) -> list[Consent]: ...

    @abc.abstractmethod
    def withdraw_consent(self, consent_id: int, at: float) -> bool: ...

    @abc.abstractmethod
    def delete_consents_for(self, subject_ref: str) -> int: ...

    # -- rights requests and verification -----------------------------------
    @abc.abstractmethod
    def create_request(self, request: RightsRequest) -> None: ...

    @abc.abstractmethod
    def get_request(self, request_id: str) -> RightsRequest | None: ...

    @abc.abstractmethod
    def update_request(self, request_id: str, **changes: Any) -> bool:
        """Change ``status``, ``verified_at``, ``completed_at``, ``subject_ref``,
        ``email`` or ``detail`` of one request."""

    @abc.abstractmethod
    def requests_for(self, subject_ref: str) -> list[RightsRequest]: ...

    @abc.abstractmethod
    def open_requests(self) -> list[RightsRequest]: ...

    @abc.abstractmethod
    def put_verification(self, verification: Verification) -> None:
        """Create or replace the pending code of a request."""

    @abc.abstractmethod
    def get_verification(self, request_id: str) -> Verification | None: ...

    @abc.abstractmethod
    def count_attempt(self, request_id: str) -> int:
        """Add one failed attempt atomically; returns the new count."""

    @abc.abstractmethod
    def use_verification(self, request_id: str, at: float) -> bool:
        """Mark the code used, once: False if it already was (race-safe)."""

    @abc.abstractmethod
    def delete_verification(self, request_id: str) -> bool: ...

    # -- evidence ------------------------------------------------------------
    @abc.abstractmethod
    def append_audit(self, entry: AuditEntry) -> int: ...

    @abc.abstractmethod
    def audit_entries(self, *, request_id: str | None = None) -> list[AuditEntry]: ...

    @abc.abstractmethod
    def append_purge(self, entry: PurgeEntry) -> int: ...

    @abc.abstractmethod
    def purges(self, dataset: str | None = None) -> list[PurgeEntry]: ...

    @abc.abstractmethod
    def purge_records(self, before: float) -> dict[str, int]:
        """Delete the records of finished business older than ``before``; rows per table.

        The audit and purge logs, sent or abandoned webhooks, withdrawn or
        expired consents, and finished rights requests (with any code left
        for them) are kept as evidence, but not forever: they name requests
        and pseudonymous subjects, and storage limitation covers evidence
        too. Unfinished business (an open request and its audit entries, a
        pending webhook, a live consent) stays whatever its age.
        """

    # -- webhook outbox ------------------------------------------------------
    @abc.abstractmethod
    def enqueue_webhook(
        self, *, request_id: str | None, recipient: str, url: str, payload: str, at: float
    ) -> int: ...

    @abc.abstractmethod
    def due_webhooks(self, now: float, limit: int = 100) -> list[OutboxItem]: ...

    @abc.abstractmethod
    def outbox(self, request_id: str | None = None) -> list[OutboxItem]: ...

    @abc.abstractmethod
    def update_webhook(self, item_id: int, **changes: Any) -> bool:
        """Change ``attempts``, ``next_attempt_at``, ``status``, ``last_error``,
        ``delivered_at`` or ``payload`` of one outbox item."""

    # -- DROP ----------------------------------------------------------------
    @abc.abstractmethod
    def record_drop_item(self, item: DropItem) -> None: ...

    @abc.abstractmethod
    def drop_items(self, *, batch: str | None = None) -> list[DropItem]: ...

    # -- salts (ledger B's SaltStore) ----------------------------------------
    @abc.abstractmethod
    def ensure_salt(self, window: str, candidate: bytes) -> bytes:
        """Insert ``candidate`` for ``window`` unless one exists; return the stored one.

        Race-safe: two processes calling it at once get the same salt.
        """

    @abc.abstractmethod
    def get_salt(self, window: str) -> bytes | None: ...

    @abc.abstractmethod
    def destroy_salts_before(self, window: str) -> int:
        """Delete the salts of windows that sort before ``window`` (ISO dates do)."""

    # -- subject keys (ledger B's KeyStore), kept apart from the data ---------
    @abc.abstractmethod
    def get_key(self, subject_id: str) -> bytes | None: ...

    @abc.abstractmethod
    def put_key(self, subject_id: str, key: bytes) -> None:
        """Store a subject's key; an existing key is kept (first writer wins)."""

    @abc.abstractmethod
    def destroy_key(self, subject_id: str) -> bool: ...

    # -- erasure ---------------------------------------------------------------
    def scrub_deleted(self) -> bool:
        """Make what deletions left behind unrecoverable from the database's files.

        A DELETE (or an UPDATE that overwrites a value) only unlinks the old
        bytes: they stay in free space, in the write-ahead log or in dead
        tuples, and a backup of the files or a copy of the disk carries
        "deleted" data. The store's own deleting methods (``delete_events``,
        ``strip_field``, ``delete_subject_events``, ``delete_subject``,
        ``delete_consents_for``, ``update_event_fields``, clearing a request's
        identity, scrubbing a webhook payload, ``destroy_salts_before``,
        ``destroy_key``) note what they touched; this finishes the job. SQLite
        does it by itself after each such commit; PostgreSQL's VACUUM is too
        slow for that and waits for this call. Call it after deleting through
        :meth:`execute`, which the store cannot see into.

        Best effort and never raises for a busy database: True when done,
        False when a reader of another connection held part of it back (the
        store tries again after the next deletion, at the next call and at
        :meth:`close`).
        """
        return True

    @property
    def scrub_pending(self) -> bool:
        """Whether a deletion's leftovers still wait for :meth:`scrub_deleted`."""
        return False

    # -- audits and tests ----------------------------------------------------
    @abc.abstractmethod
    def rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of one table for this site (``keys`` for the key table).

        For audits ("what exactly do you hold?") and for tests that scan
        every table after a deletion.
        """
