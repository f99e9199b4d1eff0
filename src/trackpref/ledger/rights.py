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
   * **deletion**: the subject's key is destroyed first (so earlier copies
     and backups of sensitive fields become unreadable), then every row that
     names the subject, in one transaction; the recipients are notified by
     signed webhooks; the request itself keeps no identity afterwards;
   * **opt-out** of sale and sharing: recorded, applied to later writes
     (:meth:`DataRights.effective_preference` makes it a standing GPC signal)
     and passed on to third parties.

The operations are also callable directly (a logged-in account page, DROP).
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
    "DataRights",
    "DeletionReport",
    "Regime",
    "RequestKind",
    "RightsError",
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

_PURPOSE_TEXT = {
    RequestKind.ACCESS: "send you a copy of the data it holds about you",
    RequestKind.CORRECTION: "correct the data it holds about you",
    RequestKind.DELETION: "delete the data it holds about you",
    RequestKind.OPT_OUT: "stop selling or sharing your data",
}
_UNREADABLE = "[unreadable: the key was destroyed]"


class RightsError(SignalError):
    """A request cannot proceed; ``field`` names what was wrong."""


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
        request = self._request(request_id)
        if request.status != "pending-verification" or request.email is None:
            raise RightsError("this request is not waiting for a code", field="request_id")
        self.verifier.start(
            request.id, request.email, purpose=_PURPOSE_TEXT[RequestKind(request.kind)]
        )
        self.audit.record("verification.sent", request_id=request.id)

    def verify(self, request_id: str, code: str) -> RightsRequest:
        """Check the code; on success the request is linked to the subjects held."""
        request = self._request(request_id)
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
            reports = [self.delete(s, request_id=request_id) for s in subjects]
            answer = {"deleted": [r.as_dict() for r in reports]}
            summary = {"subjects": len(reports), "events": sum(r.events for r in reports)}
        else:
            for s in subjects:
                self.opt_out(s, request_id=request_id)
            answer = {"opted_out": len(subjects)}
            summary = {"subjects": len(subjects)}
        now = self.clock()
        self.store.update_request(request_id, status="completed", completed_at=now)
        if kind is RequestKind.DELETION:
            self._scrub_request(request_id)
        else:  # the subject ids were a working list; the request keeps its one link
            self.store.update_request(request_id, detail={"subjects": len(subjects)})
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
        """
        subject = self.store.get_subject(subject_ref)
        identifiers: dict[str, str] = {}
        if subject is not None and subject.email_hash:
            identifiers["email_sha256"] = subject.email_hash
        if subject is not None and subject.phone_hash:
            identifiers["phone_sha256"] = subject.phone_hash
        key_destroyed = self.store.destroy_key(subject_ref)
        with self.store.transaction():
            events = self.store.delete_subject_events(subject_ref)
            consents = self.store.delete_consents_for(subject_ref)
            scrubbed = 0
            for r in self.store.requests_for(subject_ref):
                if r.id != request_id:
                    self._scrub_request(r.id)
                    scrubbed += 1
            gone = self.store.delete_subject(subject_ref)
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
