"""A person's rights over the data held about them: access, correct, delete, opt out.

Every request follows the same path, and each step is in the audit log:

1. :meth:`DataRights.open_request` records it with its legal deadline (30
   days under the GDPR, 45 under the CCPA) and sends a one-time code to the
   e-mail address given (:mod:`.verification`);
2. :meth:`DataRights.verify` checks the code and links the request to the
   subjects held under that address;
3. :meth:`DataRights.fulfil` does what was asked:

   * **access**: a complete, machine-readable export of everything held:
     every dataset's records with every field the inventory declares (``null``
     where nothing is held), sensitive fields decrypted, the consent records
     and exceptions, the requests made and the recipients the data went to;
   * **correction**: new values, checked by the gate like any write;
   * **deletion**: the subject's key is destroyed first, through the sealer
     that made it (so earlier copies and backups of sensitive fields become
     unreadable; if sealed data remains readable, nothing is deleted and the
     request stays open), then every row that names the subject, in one
     transaction; the recipients are notified by signed webhooks; the request
     itself keeps no identity afterwards, and neither do the person's other
     requests (found by subject and by e-mail address);
   * **opt-out** of sale and sharing: recorded, applied to later writes
     (:meth:`DataRights.effective_preference` makes it a standing GPC signal)
     and passed on to third parties.

The operations are also callable directly (a logged-in account page, DROP).

A request holds the requester's e-mail address only while it needs it: until
it is answered, or :data:`UNVERIFIED_TTL` after it was received if nobody
entered the code (:meth:`DataRights.expire_requests`, for the scheduled
retention job, marks those ``expired``). An address someone typed into a form
is not proof that it is theirs, and must not be kept as if it were.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trackpref.signals.errors import SignalError
from trackpref.signals.gpc import parse_gpc
from trackpref.signals.preference import DEFAULT_PRECEDENCE, Precedence, Preference, resolve

from . import Sealer
from .audit_log import AuditLog
from .drop import hash_identifier, normalize_email, normalize_phone
from .durations import Duration, Unit
from .gate import Gate, GateError
from .inventory import Inventory
from .mailer import Mailer, check_address
from .storage.base import Consent, RightsRequest, Store, Subject, encode_fields
from .verification import Verifier
from .webhooks import WebhookDispatcher

__all__ = [
    "DEADLINES",
    "UNVERIFIED_TTL",
    "DataRights",
    "DeletionReport",
    "Regime",
    "RequestKind",
    "RightsError",
    "Shredder",
]


class RequestKind(enum.StrEnum):
    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"
    OPT_OUT = "opt-out"


class Regime(enum.StrEnum):
    GDPR = "gdpr"
    CCPA = "ccpa"


#: How long a site has to answer (GDPR Art. 12(3): one month, read as 30
#: days; CCPA § 1798.130: 45 days).
DEADLINES = {Regime.GDPR: Duration(30, Unit.DAYS), Regime.CCPA: Duration(45, Unit.DAYS)}

#: How long a request nobody verified keeps the address it was opened with.
#: A code lives 15 minutes and can be sent again; a day lets a person come back
#: to their mailbox later the same day, and no longer keeps an address that
#: may have been typed by someone else.
UNVERIFIED_TTL = Duration(1, Unit.DAYS)

_PURPOSE_TEXT = {
    RequestKind.ACCESS: "send you a copy of the data it holds about you",
    RequestKind.CORRECTION: "correct the data it holds about you",
    RequestKind.DELETION: "delete the data it holds about you",
    RequestKind.OPT_OUT: "stop selling or sharing your data",
}
_UNREADABLE = "[unreadable: the key was destroyed]"


class RightsError(SignalError):
    """A request cannot proceed; ``field`` names what was wrong."""


class Shredder(Protocol):
    """What a sealer adds so deletion can destroy its key (ledger B's ``FieldCipher.shred``).

    Deletion must destroy the key the sealer encrypts with, which may live in
    a key store other than the data store (``FieldCipher(SQLiteKeyStore(...))``).
    A sealer without it is still checked: if its sealed values stay readable
    after the store's key is destroyed, the deletion fails.
    """

    def shred(self, subject_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class DeletionReport:
    events: int
    consents: int
    #: Whether a profile (e-mail, phone) was held and deleted.
    profile: bool
    key_destroyed: bool
    requests_scrubbed: int
    webhooks: int

    def as_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "consents": self.consents,
            "profile": self.profile,
            "key_destroyed": self.key_destroyed,
            "requests_scrubbed": self.requests_scrubbed,
            "webhooks": self.webhooks,
        }


class DataRights:
    """Answers rights requests for one site's store."""

    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        *,
        mailer: Mailer | None = None,
        sealer: Sealer | None = None,
        webhooks: WebhookDispatcher | None = None,
        clock: Callable[[], float] = time.time,
        verifier: Verifier | None = None,
        precedence: Precedence = DEFAULT_PRECEDENCE,
        unverified_ttl: float = UNVERIFIED_TTL.min_seconds,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.sealer = sealer
        self.webhooks = webhooks
        self.clock = clock
        self.audit = AuditLog(store, clock=clock)
        if verifier is None and mailer is not None:
            verifier = Verifier(store, mailer, site_name=inventory.site.name, clock=clock)
        self._verifier = verifier
        if verifier is not None and unverified_ttl < verifier.ttl:
            # A request must not expire while the code just sent still works.
            raise ValueError("unverified_ttl: at least the verification code's lifetime")
        self.unverified_ttl = unverified_ttl
        self.gate = Gate(inventory, clock=clock, precedence=precedence)
        self.precedence = precedence

    @property
    def verifier(self) -> Verifier:
        """The code sender; requests from the public need one (a mailer)."""
        if self._verifier is None:
            raise RightsError("no mailer configured: requests cannot be verified", field="mailer")
        return self._verifier

    # -- subjects --------------------------------------------------------------
    def register_subject(
        self, subject_id: str, *, email: str | None = None, phone: str | None = None
    ) -> Subject:
        """Record who a subject is, so that requests and DROP lists can find them."""
        if not isinstance(subject_id, str) or not subject_id or not subject_id.isprintable():
            raise RightsError("subject_id: a non-empty printable string", field="subject_id")
        existing = self.store.get_subject(subject_id)
        mail = normalize_email(email) if email else None
        if mail is not None and (len(mail) > 254 or "@" not in mail or not mail.isprintable()):
            raise RightsError("email: not an e-mail address", field="email")
        tel = normalize_phone(phone) if phone else None
        if phone is not None and not (tel and 7 <= len(tel) <= 15):
            raise RightsError("phone: not a phone number", field="phone")
        subject = Subject(
            subject_id=subject_id,
            email=mail,
            phone=tel,
            email_hash=hash_identifier("email", mail) if mail else None,
            phone_hash=hash_identifier("phone", tel) if tel else None,
            created_at=existing.created_at if existing else self.clock(),
            opted_out_at=existing.opted_out_at if existing else None,
        )
        self.store.upsert_subject(subject)
        return subject

    def record_consent(
        self,
        subject_ref: str,
        *,
        kind: str = "exception",
        targets: tuple[str, ...] = (),
        purposes: tuple[str, ...] | None = None,
        expires_at: float | None = None,
        source: str = "",
    ) -> int:
        """Keep a consent record or user-granted exception (it is part of every export)."""
        if kind not in ("exception", "consent", "opt-out"):
            raise RightsError(f"kind: {kind!r} is not exception, consent or opt-out", field="kind")
        return self.store.add_consent(
            Consent(
                subject_ref, kind, tuple(targets), purposes, self.clock(), expires_at, None, source
            )
        )

    def is_opted_out(self, subject_ref: str) -> bool:
        subject = self.store.get_subject(subject_ref)
        return subject is not None and subject.opted_out_at is not None

    def effective_preference(self, subject_ref: str | None, preference: Preference) -> Preference:
        """The preference to gate a write with, once a person has opted out.

        An opt-out of sale and sharing stands like a permanent ``Sec-GPC: 1``
        from that person: the signals core resolves it with whatever the
        request carried, under the site's precedence.
        """
        if subject_ref is None or not self.is_opted_out(subject_ref):
            return preference
        return resolve(
            preference.dnt,
            parse_gpc("1"),
            exception=preference.exception,
            precedence=self.precedence,
        )

    # -- the request lifecycle -------------------------------------------------
    def open_request(
        self,
        kind: RequestKind | str,
        email: str,
        *,
        regime: Regime | str = Regime.GDPR,
        detail: Mapping[str, Any] | None = None,
    ) -> RightsRequest:
        """Record a request and send the verification code to ``email``."""
        try:
            k, r = RequestKind(kind), Regime(regime)
        except ValueError as exc:
            raise RightsError(
                str(exc), field="kind" if "RequestKind" in str(exc) else "regime"
            ) from None
        verifier = self.verifier  # fail before recording anything if codes cannot be sent
        mail = normalize_email(email) if isinstance(email, str) else ""
        try:
            check_address(mail, "email")
        except SignalError as exc:
            raise RightsError(exc.message, field="email") from None
        now = self.clock()
        request = RightsRequest(
            id=secrets.token_urlsafe(16),
            kind=k.value,
            regime=r.value,
            status="pending-verification",
            received_at=now,
            due_at=now + DEADLINES[r].min_seconds,
            email=mail,
            detail=dict(detail or {}),
        )
        self.store.create_request(request)
        self.audit.record(
            "request.received",
            request_id=request.id,
            detail={"kind": k.value, "regime": r.value, "due_at": request.due_at},
        )
        verifier.start(request.id, mail, purpose=_PURPOSE_TEXT[k])
        self.audit.record("verification.sent", request_id=request.id)
        return request

    def resend_code(self, request_id: str) -> None:
        request = self._unexpired(self._request(request_id))
        if request.status != "pending-verification" or request.email is None:
            raise RightsError("this request is not waiting for a code", field="request_id")
        self.verifier.start(
            request.id, request.email, purpose=_PURPOSE_TEXT[RequestKind(request.kind)]
        )
        self.audit.record("verification.sent", request_id=request.id)

    def verify(self, request_id: str, code: str) -> RightsRequest:
        """Check the code; on success the request is linked to the subjects held."""
        request = self._unexpired(self._request(request_id))
        if request.status != "pending-verification":
            raise RightsError(f"this request is {request.status}", field="request_id")
        try:
            self.verifier.check(request_id, code)
        except SignalError as exc:
            self.audit.record(
                "verification.failed",
                request_id=request_id,
                detail={"reason": getattr(exc, "reason", "error")},
            )
            raise
        subjects = self.store.subjects_by_email(request.email or "")
        refs = [s.subject_id for s in subjects]
        self.store.update_request(
            request_id,
            status="verified",
            verified_at=self.clock(),
            subject_ref=refs[0] if refs else None,
            detail={**request.detail, "subjects": refs},
        )
        self.verifier.discard(request_id)
        self.audit.record(
            "verification.succeeded", request_id=request_id, detail={"subjects_found": len(refs)}
        )
        return self._request(request_id)

    def fulfil(
        self, request_id: str, *, corrections: list[Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Do what a verified request asked; returns the answer as JSON-ready data."""
        request = self._request(request_id)
        if request.status != "verified":
            raise RightsError(
                f"this request is {request.status}; it must be verified first", field="request_id"
            )
        subjects: list[str] = list(request.detail.get("subjects", []))
        kind = RequestKind(request.kind)
        answer: dict[str, Any]
        if kind is RequestKind.ACCESS:
            answer = {"subjects": [self.export(s) for s in subjects]}
            summary: dict[str, Any] = {"subjects": len(subjects)}
        elif kind is RequestKind.CORRECTION:
            if not corrections:
                raise RightsError("a correction needs at least one change", field="corrections")
            changed = sum(self._apply_corrections(s, corrections) for s in subjects)
            answer = {"changed": changed}
            summary = {"changed": changed}
        elif kind is RequestKind.DELETION:
            try:
                reports = [self.delete(s, request_id=request_id) for s in subjects]
            except RightsError as exc:  # the request stays open, saying why
                self.store.update_request(
                    request_id, detail={**request.detail, "error": exc.message}
                )
                raise
            # The address itself is the person's data too, with or without an account.
            superseded = self._close_requests_by_email(request.email, keep=request_id)
            self._audit_superseded(superseded)
            answer = {"deleted": [r.as_dict() for r in reports]}
            summary = {
                "subjects": len(reports),
                "events": sum(r.events for r in reports),
                "requests_scrubbed": sum(r.requests_scrubbed for r in reports) + len(superseded),
            }
        else:
            for s in subjects:
                self.opt_out(s, request_id=request_id)
            answer = {"opted_out": len(subjects)}
            summary = {"subjects": len(subjects)}
        now = self.clock()
        self.store.update_request(request_id, status="completed", completed_at=now)
        if kind is RequestKind.DELETION:
            self._scrub_request(request_id)
        else:
            # The subject ids were a working list; the request keeps its one link.
            # The address was needed to verify and answer; it is not needed now.
            self.store.update_request(request_id, email=None, detail={"subjects": len(subjects)})
        self.audit.record(
            "request.completed",
            request_id=request_id,
            detail={"kind": kind.value, "late": now > request.due_at, **summary},
        )
        return {"request_id": request_id, "kind": kind.value, **answer}

    def reject(self, request_id: str, reason: str) -> None:
        self._request(request_id)
        self.store.update_request(request_id, status="rejected", completed_at=self.clock())
        self._scrub_request(request_id)
        self.audit.record("request.rejected", request_id=request_id, detail={"reason": reason})

    def overdue(self, now: float | None = None) -> list[RightsRequest]:
        """Open requests past their legal deadline."""
        at = self.clock() if now is None else now
        return [r for r in self.store.open_requests() if r.due_at < at]

    def open_requests(self) -> list[RightsRequest]:
        """Open requests, soonest deadline first."""
        return self.store.open_requests()

    def _request(self, request_id: str) -> RightsRequest:
        request = self.store.get_request(request_id) if isinstance(request_id, str) else None
        if request is None:
            raise RightsError("no such request", field="request_id")
        return request

    def _scrub_request(self, request_id: str) -> None:
        self.store.update_request(request_id, email=None, subject_ref=None, detail={})
        self.store.delete_verification(request_id)

    def _unexpired(self, request: RightsRequest) -> RightsRequest:
        """The request, unless it waited for its code too long (then it expires now).

        Checked here as well as in :meth:`expire_requests`, so that how often
        the scheduled job runs does not lengthen the time an address is kept.
        """
        if request.status == "pending-verification" and self._too_old(request, self.clock()):
            self._expire(request, self.clock())
            raise RightsError(
                "this request expired before it was verified; please open a new one",
                field="request_id",
            )
        return request

    def _too_old(self, request: RightsRequest, now: float) -> bool:
        return now >= request.received_at + self.unverified_ttl

    def _expire(self, request: RightsRequest, now: float) -> None:
        self.store.update_request(request.id, status="expired", completed_at=now)
        self._scrub_request(request.id)
        self.audit.record(
            "request.expired",
            request_id=request.id,
            detail={"kind": request.kind, "unverified_for": now - request.received_at},
        )

    def expire_requests(self, now: float | None = None) -> int:
        """Expire requests nobody verified within :attr:`unverified_ttl`; returns how many.

        For the scheduled retention job: without it, an address typed into the
        form (and its code's row) would stay for ever when nobody answers. An
        expired request keeps no e-mail, link or detail, like a rejected one.
        """
        at = self.clock() if now is None else now
        expired = 0
        for request in self.store.open_requests():
            if request.status == "pending-verification" and self._too_old(request, at):
                self._expire(request, at)
                expired += 1
        return expired

    def _close_requests_by_email(self, email: str | None, *, keep: str | None) -> list[str]:
        """Close and scrub the open requests made under ``email``; returns their ids.

        Found by address, not by subject: a request nobody verified has no
        subject yet, and one linked to another account under the same address
        holds the address too. Once the data is deleted they cannot be
        answered meaningfully, so they are closed (``rejected``, the reason in
        the audit log) rather than left waiting for ever.
        """
        mail = normalize_email(email) if email else ""
        if not mail:
            return []
        now = self.clock()
        closed = []
        for r in self.store.open_requests():
            if r.id != keep and r.email is not None and normalize_email(r.email) == mail:
                self.store.update_request(r.id, status="rejected", completed_at=now)
                self._scrub_request(r.id)
                closed.append(r.id)
        return closed

    def _audit_superseded(self, request_ids: list[str]) -> None:
        for rid in request_ids:
            self.audit.record(
                "request.rejected",
                request_id=rid,
                detail={"reason": "superseded: the person's data was deleted"},
            )

    # -- the operations ---------------------------------------------------------
    def export(self, subject_ref: str) -> dict[str, Any]:
        """Everything held about one subject, machine-readable."""
        subject = self.store.get_subject(subject_ref)
        events = self.store.events_for_subject(subject_ref)
        datasets: dict[str, Any] = {}
        for ds in self.inventory.datasets.values():
            mine = [e for e in events if e.dataset == ds.name]
            if not mine:
                continue
            datasets[ds.name] = {
                "description": ds.description,
                "purposes": list(ds.purposes),
                "legal_basis": ds.legal_basis.value,
                "retention": str(ds.retention),
                "fields": {f.name: f.as_dict() for f in ds.fields.values()},
                "records": [
                    {
                        "id": e.id,
                        "ts": e.ts,
                        "purposes": list(e.purposes),
                        "recipients": list(e.recipients),
                        "preference": e.preference,
                        "explanation_id": e.decision_id,
                        "fields": {
                            name: self._readable(subject_ref, ds.name, name, e.fields.get(name))
                            for name in ds.fields
                        },
                    }
                    for e in mine
                ],
            }
        undeclared = sorted({e.dataset for e in events} - set(self.inventory.datasets))
        for name in undeclared:  # held under an older inventory: still the person's data
            datasets[name] = {
                "declared": False,
                "records": [
                    {"id": e.id, "ts": e.ts, "fields": e.fields}
                    for e in events
                    if e.dataset == name
                ],
            }
        recipients = sorted({r for e in events for r in e.recipients})
        return {
            "site": self.store.site,
            "generated_at": self.clock(),
            "subject": None
            if subject is None
            else {
                "id": subject.subject_id,
                "email": subject.email,
                "phone": subject.phone,
                "registered_at": subject.created_at,
                "opted_out_of_sale_and_sharing_at": subject.opted_out_at,
            },
            "datasets": datasets,
            "consents": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "targets": list(c.targets),
                    "purposes": None if c.purposes is None else list(c.purposes),
                    "granted_at": c.granted_at,
                    "expires_at": c.expires_at,
                    "withdrawn_at": c.withdrawn_at,
                    "source": c.source,
                }
                for c in self.store.consents_for(subject_ref)
            ],
            "requests": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "regime": r.regime,
                    "status": r.status,
                    "received_at": r.received_at,
                    "due_at": r.due_at,
                    "completed_at": r.completed_at,
                }
                for r in self.store.requests_for(subject_ref)
            ],
            "recipients": [
                self.inventory.recipients[r].as_dict()
                for r in recipients
                if r in self.inventory.recipients
            ],
        }

    def _readable(self, subject_ref: str, dataset: str, name: str, value: Any) -> Any:
        spec = self.inventory.datasets[dataset].fields[name]
        if value is None or not spec.is_sensitive or self.sealer is None:
            return value
        try:
            return self.sealer.unseal(subject_ref, dataset, name, value)
        except Exception:  # an unreadable field is reported as such, never fatal to an export
            return _UNREADABLE

    def correct(
        self,
        subject_ref: str,
        dataset: str,
        field: str,
        value: object,
        *,
        event_id: int | None = None,
    ) -> int:
        """Replace a field's value in the subject's records (all, or one by id)."""
        checked = self.gate.validate(dataset, field, value)
        spec = self.inventory.datasets[dataset].fields[field]
        stored: object = checked
        if spec.is_sensitive:
            if self.sealer is None:
                raise RightsError(f"{dataset}.{field}: sensitive; a sealer is needed", field=field)
            stored = self.sealer.seal(subject_ref, dataset, field, checked)
        changed = 0
        with self.store.transaction():
            for e in self.store.events_for_subject(subject_ref):
                if e.dataset != dataset or (event_id is not None and e.id != event_id):
                    continue
                if field not in e.fields:
                    continue
                fields = dict(e.fields)
                fields[field] = stored
                changed += int(self.store.update_event_fields(e.id, encode_fields(fields)))
        self.audit.record(
            "subject.corrected", detail={"dataset": dataset, "field": field, "rows": changed}
        )
        return changed

    def correct_profile(
        self, subject_ref: str, *, email: str | None = None, phone: str | None = None
    ) -> Subject:
        subject = self.store.get_subject(subject_ref)
        if subject is None:
            raise RightsError("no such subject", field="subject_ref")
        updated = self.register_subject(
            subject_ref, email=email or subject.email, phone=phone or subject.phone
        )
        self.audit.record("subject.corrected", detail={"profile": True})
        return updated

    def _apply_corrections(self, subject_ref: str, corrections: list[Mapping[str, Any]]) -> int:
        total = 0
        for i, c in enumerate(corrections):
            try:
                dataset, field, value = c["dataset"], c["field"], c["value"]
            except (KeyError, TypeError):
                raise RightsError(
                    f"corrections[{i}]: needs dataset, field and value", field=f"corrections[{i}]"
                ) from None
            try:
                total += self.correct(subject_ref, dataset, field, value, event_id=c.get("id"))
            except GateError as exc:
                raise RightsError(f"corrections[{i}]: {exc.message}", field=exc.field) from None
        return total

    def delete(
        self, subject_ref: str, *, request_id: str | None = None, reason: str = ""
    ) -> DeletionReport:
        """Delete everything held about one subject and tell the recipients.

        The key goes first: if anything below fails, the sensitive fields of
        every copy are already unreadable, and running it again finishes the job.
        If sealed data is still readable once the key is destroyed (the sealer
        cannot shred and encrypts with a key the store does not hold), nothing
        is deleted and :class:`RightsError` says why: the deletion could not be
        completed, and the rows are left so that a retry still knows to check.

        The person's other requests lose their identity too: those linked to
        the subject, and the open ones made under the subject's e-mail address
        (closed, as they can no longer be answered).
        """
        subject = self.store.get_subject(subject_ref)
        identifiers: dict[str, str] = {}
        if subject is not None and subject.email_hash:
            identifiers["email_sha256"] = subject.email_hash
        if subject is not None and subject.phone_hash:
            identifiers["phone_sha256"] = subject.phone_hash
        sample = self._sealed_sample(subject_ref)
        key_destroyed = self._destroy_key(subject_ref)
        if sample is not None and self._still_readable(subject_ref, sample):
            reason = (
                "the subject's sealed fields are still readable after destroying the key: "
                "the sealer cannot shred its key (no shred()), or keeps it elsewhere; "
                "no row was deleted"
            )
            self.audit.record(
                "subject.deletion-failed", request_id=request_id, detail={"reason": reason}
            )
            raise RightsError(reason, field="key")
        with self.store.transaction():
            events = self.store.delete_subject_events(subject_ref)
            consents = self.store.delete_consents_for(subject_ref)
            scrubbed = 0
            for r in self.store.requests_for(subject_ref):
                if r.id != request_id:
                    self._scrub_request(r.id)
                    scrubbed += 1
            superseded = self._close_requests_by_email(
                subject.email if subject is not None else None, keep=request_id
            )
            gone = self.store.delete_subject(subject_ref)
        self._audit_superseded(superseded)
        scrubbed += len(superseded)
        queued = 0
        if self.webhooks is not None:
            queued = len(
                self.webhooks.enqueue(
                    "deletion",
                    request_id=request_id,
                    subject_ref=subject_ref,
                    identifiers=identifiers,
                )
            )
        report = DeletionReport(events, consents, gone, key_destroyed, scrubbed, queued)
        self.audit.record(
            "subject.deleted",
            request_id=request_id,
            detail={**report.as_dict(), "reason": reason},
        )
        return report

    def _sealed_sample(self, subject_ref: str) -> tuple[str, str, str] | None:
        """One sealed value of the subject's, to prove after shredding that it is unreadable.

        The newest one: a subject that came back after an earlier deletion has
        a new key, and only values sealed since then are under it.
        """
        if self.sealer is None:
            return None  # the store is the key store; nothing else to check
        sensitive = {
            name: ds.sensitive_fields
            for name, ds in self.inventory.datasets.items()
            if ds.sensitive_fields
        }
        if not sensitive:
            return None  # no query on the common path (nothing is ever sealed)
        best: tuple[int, tuple[str, str, str]] | None = None
        for e in self.store.events_for_subject(subject_ref):
            for name in sensitive.get(e.dataset, ()):
                token = e.fields.get(name)
                if isinstance(token, str) and (best is None or e.id > best[0]):
                    best = (e.id, (e.dataset, name, token))
        return None if best is None else best[1]

    def _destroy_key(self, subject_ref: str) -> bool:
        """Destroy the subject's key where the sealer keeps it, and in the store.

        Through the sealer first: with ``FieldCipher(SQLiteKeyStore(...))``
        the store never held the key. The store's copy goes too (the store
        may have been the key store of an earlier setup).
        """
        destroyed = False
        # Duck-typed: ``Sealer`` only promises seal/unseal (see :class:`Shredder`).
        shred = getattr(self.sealer, "shred", None)
        if callable(shred):
            destroyed = bool(shred(subject_ref))
        return self.store.destroy_key(subject_ref) or destroyed

    def _still_readable(self, subject_ref: str, sample: tuple[str, str, str]) -> bool:
        if self.sealer is None:  # a sample is only taken with a sealer
            return False
        dataset, name, token = sample
        try:
            self.sealer.unseal(subject_ref, dataset, name, token)
        except Exception:  # KeyDestroyed and the like: the key is gone, which is the point
            return False
        return True

    def opt_out(self, subject_ref: str, *, request_id: str | None = None, reason: str = "") -> None:
        """Stop selling or sharing this subject's data, and tell the third parties."""
        now = self.clock()
        self.store.set_opt_out(subject_ref, now)
        self.store.add_consent(
            Consent(subject_ref, "opt-out", (), None, now, None, None, reason or "request")
        )
        subject = self.store.get_subject(subject_ref)
        identifiers: dict[str, str] = {}
        if subject is not None and subject.email_hash:
            identifiers["email_sha256"] = subject.email_hash
        if self.webhooks is not None:
            self.webhooks.enqueue(
                "opt-out",
                request_id=request_id,
                subject_ref=subject_ref,
                identifiers=identifiers,
                third_parties_only=True,
            )
        self.audit.record("subject.opted-out", request_id=request_id, detail={"reason": reason})
