"""The gate: every write passes through the inventory and the person's preference.

A value reaches storage only if the inventory declares its field, it has the
declared type and size, and the person's resolved :class:`Preference` lets at
least one of the field's purposes happen. The rules themselves are the signals
core's (:func:`trackpref.signals.decide`); the gate only applies them to an
inventory:

* undeclared fields, mistyped or oversized values and control characters are
  refused with a :class:`GateError` that names the field; nothing is stored;
* under do-not-track no identifier is kept (fields whose identifier kind is
  pseudonymous or direct, the subject reference and the visitor hash), nothing
  goes to a recipient that is not a service provider, and only the purposes
  the core allows are recorded with the row;
* ``DNT: 0`` opens every declared purpose; a user-granted exception opens
  exactly what its :class:`ExceptionScope` covers and, for the rest, the preference
  that the exception overrode still applies.

Every outcome comes with an :class:`Explanation` (which rule, which signal) as
data: what the dashboard and the audit log show. Plans are computed once per
(dataset, preference, grant) shape and cached, so checking one event costs a
few dictionary lookups and one type check per field.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple, cast

from trackpref.signals.decisions import Decision, PartyRole, Purpose, Verdict, decide
from trackpref.signals.errors import SignalError
from trackpref.signals.preference import (
    DEFAULT_PRECEDENCE,
    Precedence,
    Preference,
    PreferenceState,
    Source,
    resolve,
)

from .durations import Duration
from .inventory import Dataset, FieldSpec, FieldType, Inventory

__all__ = [
    "MAX_REF_LENGTH",
    "MIN_LIFE",
    "Admission",
    "Encoded",
    "ExceptionScope",
    "Explanation",
    "Gate",
    "GateError",
    "Plan",
    "Record",
    "Rule",
    "check_text",
]

#: A backdated event (or field) is stored only if it has at least this long
#: (or half its retention, if shorter) left to live. The retention scheduler
#: sleeps at most this long, so nothing written between two runs can pass
#: its limit before the next one.
MIN_LIFE = 3600.0
#: Undeclared names are echoed in errors only when they look like names.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
#: Subject references and visitor hashes longer than this are refused.
MAX_REF_LENGTH = 256
#: Largest integer accepted: what SQLite and PostgreSQL store exactly.
_MAX_INT = 2**63 - 1
#: C0 and C1 controls, DEL, lone surrogates and the bidirectional overrides
#: and isolates that can make a log line or a page read differently from
#: what it holds ("Trojan Source").
_HOSTILE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


class GateError(SignalError):
    """A write was refused. ``field`` names the field, ``dataset`` the dataset.

    Nothing of a refused event is stored, so a caller can fix the input and
    send it again.
    """

    def __init__(self, message: str, *, field: str, dataset: str | None = None) -> None:
        super().__init__(message, field=field)
        self.dataset = dataset

    def as_dict(self) -> dict[str, object]:
        return {
            "error": "refused",
            "dataset": self.dataset,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ExceptionScope:
    """What a user-granted exception covers.

    ``recipients`` lists the recipient ids (third parties, the TPE "targets")
    the person allowed; ``"*"`` means every recipient the dataset declares (a
    site-wide exception). ``purposes`` limits the purposes opened; ``None``
    opens every declared purpose. An exception without a grant opens the
    first party's purposes and no third party.
    """

    recipients: frozenset[str] = frozenset()
    purposes: frozenset[str] | None = None

    @classmethod
    def site_wide(cls) -> ExceptionScope:
        """TPE's site-wide exception: every target, every declared purpose."""
        return cls(frozenset({"*"}), None)

    def covers_recipient(self, rid: str) -> bool:
        return "*" in self.recipients or rid in self.recipients

    def covers_purpose(self, purpose: str) -> bool:
        return self.purposes is None or purpose in self.purposes

    def as_dict(self) -> dict[str, object]:
        return {
            "recipients": sorted(self.recipients),
            "purposes": sorted(self.purposes) if self.purposes is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    """One step of a decision: what was decided about ``target`` and why."""

    rule: str  # purpose | identifier | field | recipient | dataset
    target: str
    outcome: str  # allowed | refused | kept | dropped | sealed | shared | withheld
    signal: str  # the signal(s) that decided: dnt, gpc, exception, site-default
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "target": self.target,
            "outcome": self.outcome,
            "signal": self.signal,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a dataset's write looks the way it does for one preference."""

    dataset: str
    role: str
    preference: str
    source: str
    signals: tuple[str, ...]
    rules: tuple[Rule, ...]
    grant: ExceptionScope | None = None

    def about(self, target: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.target == target)

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "role": self.role,
            "preference": self.preference,
            "source": self.source,
            "signals": list(self.signals),
            "grant": self.grant.as_dict() if self.grant else None,
            "rules": [r.as_dict() for r in self.rules],
        }


class Record(NamedTuple):
    """What may be stored for one event.

    A named tuple rather than a dataclass because ingest builds hundreds of
    thousands per second; it is immutable all the same. ``fields`` holds only
    kept values; ``sealed`` names those that must be encrypted with the
    subject's key before they are written.
    """

    dataset: str
    ts: float
    subject: str | None
    visitor_hash: str | None
    fields: dict[str, object]
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]
    preference: str
    sealed: tuple[str, ...]
    #: The explanation shared by every record of the same shape.
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer for one event: the record to store (or none) and why."""

    record: Record | None
    explanation: Explanation
    dropped: tuple[str, ...] = ()

    @property
    def stored(self) -> bool:
        return self.record is not None


@dataclass(frozen=True, slots=True)
class Plan:
    """What the gate keeps, shares and records for one preference shape."""

    keep: frozenset[str]
    sealed: tuple[str, ...]
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]
    keep_subject: bool
    keep_visitor: bool
    preference: str
    explanation: Explanation
    stores: bool
    #: Text and integer fields: name -> (is text, JSON member prefix, max length
    #: or minimum, maximum, kept?), for the inline fast path of
    #: :meth:`Gate.check_json`; anything else goes through the validators.
    inline: dict[str, tuple[bool, str, float, float, bool]] = field(default_factory=dict)


Validator = Callable[[object], object]


#: :meth:`Gate.check_json`'s answer: ``(ts, subject, visitor_hash, fields_json, plan)``,
#: a plain tuple because ingest builds hundreds of thousands per second.
Encoded = tuple[float, str | None, str | None, str, "Plan"]


@dataclass(slots=True)
class _DatasetCheck:
    dataset: Dataset
    validators: dict[str, Validator]
    #: Validate and return the value's JSON member text (``"name":value``).
    encoders: dict[str, Callable[[object], str]]
    required: tuple[str, ...]
    #: Fields whose own retention is shorter than the dataset's.
    short_lived: tuple[FieldSpec, ...] = ()
    plans: dict[tuple[object, ...], Plan] = field(default_factory=dict)
    #: Plans by the identity of a Preference object already seen (fast path).
    recent: dict[int, tuple[Preference, ExceptionScope | None, bool, Plan]] = field(
        default_factory=dict
    )


def check_text(value: str, *, field: str, max_length: int, dataset: str | None = None) -> str:
    """Refuse over-long text and characters that make logs and pages lie."""
    if len(value) > max_length:
        raise GateError(
            f"{field}: {len(value)} characters, more than the {max_length} allowed",
            field=field,
            dataset=dataset,
        )
    if not value.isprintable():
        bad = _HOSTILE.search(value)
        if bad is not None:
            raise GateError(
                f"{field}: contains the control character U+{ord(bad.group()):04X} "
                f"at position {bad.start()}",
                field=field,
                dataset=dataset,
            )
    return value


def _check_ref(value: object, name: str, ds: str) -> None:
    if type(value) is not str:
        raise GateError(
            f"{name}: expected text, got {type(value).__name__}", field=name, dataset=ds
        )
    if not value:
        raise GateError(f"{name}: must not be empty", field=name, dataset=ds)
    check_text(value, field=name, max_length=MAX_REF_LENGTH, dataset=ds)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validator(ds: str, spec: FieldSpec) -> Validator:
    name = f"{ds}.{spec.name}"
    lo, hi = spec.minimum, spec.maximum

    def bounds(v: float) -> None:
        if lo is not None and v < lo:
            raise GateError(f"{name}: {v} is below the minimum {lo:g}", field=name, dataset=ds)
        if hi is not None and v > hi:
            raise GateError(f"{name}: {v} is above the maximum {hi:g}", field=name, dataset=ds)

    if spec.type is FieldType.STRING:
        limit = spec.max_length

        def check_string(v: object) -> object:
            if type(v) is str and len(v) <= limit and v.isprintable():
                return v
            if not isinstance(v, str):
                raise GateError(
                    f"{name}: expected text, got {type(v).__name__} {_short(v)}",
                    field=name,
                    dataset=ds,
                )
            return check_text(str(v), field=name, max_length=limit, dataset=ds)

        return check_string
    if spec.type is FieldType.INTEGER:

        def check_integer(v: object) -> object:
            if type(v) is not int:
                raise GateError(
                    f"{name}: expected a whole number, got {type(v).__name__} {_short(v)}",
                    field=name,
                    dataset=ds,
                )
            if not -_MAX_INT <= v <= _MAX_INT:
                raise GateError(f"{name}: {v} is out of range", field=name, dataset=ds)
            if lo is not None or hi is not None:
                bounds(v)
            return v

        return check_integer
    if spec.type is FieldType.NUMBER:

        def check_number(v: object) -> object:
            if type(v) is not float and type(v) is not int:
                raise GateError(
                    f"{name}: expected a number, got {type(v).__name__} {_short(v)}",
                    field=name,
                    dataset=ds,
                )
            if not math.isfinite(v) or not -_MAX_INT <= v <= _MAX_INT:
                raise GateError(
                    f"{name}: {v} is not a finite number in range", field=name, dataset=ds
                )
            if lo is not None or hi is not None:
                bounds(v)
            return v

        return check_number

    def check_boolean(v: object) -> object:
        if type(v) is not bool:
            raise GateError(
                f"{name}: expected true or false, got {type(v).__name__} {_short(v)}",
                field=name,
                dataset=ds,
            )
        return v

    return check_boolean


_JSON_SCALAR: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    float: float.__repr__,
    bool: lambda b: "true" if b else "false",
}


def _encoder(ds: str, spec: FieldSpec) -> Callable[[object], str]:
    """A validator that also writes the value as a JSON object member.

    Field names are inventory names (``[a-z][a-z0-9_]*``) and validated values
    are text, finite numbers or booleans, so the member is written directly;
    text goes through the json module's own escaper.
    """
    prefix = f'"{spec.name}":'
    validate = _validator(ds, spec)
    if spec.type is FieldType.STRING:
        limit = spec.max_length

        def encode_string(v: object) -> str:
            if type(v) is str and len(v) <= limit and v.isprintable():
                return prefix + encode_basestring_ascii(v)
            return prefix + encode_basestring_ascii(cast(str, validate(v)))

        return encode_string

    def encode_scalar(v: object) -> str:
        v = validate(v)
        return prefix + _JSON_SCALAR[type(v)](v)

    return encode_scalar


def _inline_checks(ds: Dataset, keep: set[str]) -> dict[str, tuple[bool, str, float, float, bool]]:
    out: dict[str, tuple[bool, str, float, float, bool]] = {}
    for name, spec in ds.fields.items():
        prefix = f'"{name}":'
        if spec.type is FieldType.STRING:
            out[name] = (True, prefix, spec.max_length, 0, name in keep)
        elif spec.type is FieldType.INTEGER:
            lo = -_MAX_INT if spec.minimum is None else max(-_MAX_INT, math.ceil(spec.minimum))
            hi = _MAX_INT if spec.maximum is None else min(_MAX_INT, math.floor(spec.maximum))
            out[name] = (False, prefix, lo, hi, name in keep)
    return out


class Gate:
    """Applies an inventory and the signals core's rules to every write.

    ``role`` is this party's role for the data (a third party's collector
    passes :attr:`PartyRole.THIRD_PARTY`). ``clock`` returns the current
    time in epoch seconds; event times later than ``clock() + max_skew`` are
    refused so that nobody can outlive retention by writing into the future.
    ``precedence`` is the one the site resolves preferences with; it is used
    to work out what an exception overrode. ``min_life``: see :data:`MIN_LIFE`.
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        role: PartyRole | str = PartyRole.FIRST_PARTY,
        clock: Callable[[], float] = time.time,
        max_skew: float = 300.0,
        min_life: float = MIN_LIFE,
        precedence: Precedence = DEFAULT_PRECEDENCE,
    ) -> None:
        self.inventory = inventory
        self.role = PartyRole(role)
        self.clock = clock
        self.max_skew = max_skew
        self.min_life = min_life
        self.precedence = precedence
        self._checks: dict[str, _DatasetCheck] = {}
        for name, ds in inventory.datasets.items():
            self._checks[name] = _DatasetCheck(
                dataset=ds,
                validators={f: _validator(name, spec) for f, spec in ds.fields.items()},
                encoders={f: _encoder(name, spec) for f, spec in ds.fields.items()},
                required=tuple(f for f, spec in ds.fields.items() if spec.required),
                short_lived=tuple(
                    spec for spec in ds.fields.values() if spec.retention != ds.retention
                ),
            )

    # -- the public checks -------------------------------------------------
    def admit(
        self,
        dataset: str,
        fields: Mapping[str, object],
        preference: Preference,
        *,
        subject: str | None = None,
        visitor_hash: str | None = None,
        grant: ExceptionScope | None = None,
        ts: float | None = None,
    ) -> Admission:
        """Check one event; raise :class:`GateError` if any part is refused.

        Returns the :class:`Record` to store (``None`` when no purpose of the
        dataset is allowed, so nothing may be kept at all) with its
        explanation and the names of declared fields that were dropped.
        """
        check = self._check(dataset)
        plan = self._plan(check, preference, grant, subject is not None)
        dropped: list[str] = []
        record = self._apply(check, plan, fields, subject, visitor_hash, ts, dropped)
        return Admission(record, plan.explanation, tuple(dropped))

    def admit_many(
        self,
        dataset: str,
        rows: Iterable[Mapping[str, object]],
        preference: Preference,
        *,
        grant: ExceptionScope | None = None,
    ) -> list[Record]:
        """Check many subject-less events sharing one preference (a log batch).

        All or nothing: the first refused row raises, naming its index, and
        no record is returned, so a half-checked batch is never written.
        """
        check = self._check(dataset)
        plan = self._plan(check, preference, grant, False)
        out: list[Record] = []
        for i, row in enumerate(rows):
            try:
                record = self._apply(check, plan, row, None, None, None, None)
            except GateError as exc:
                raise GateError(
                    f"row {i}: {exc.message}", field=exc.field or "", dataset=dataset
                ) from None
            if record is not None:
                out.append(record)
        return out

    def explain(
        self,
        dataset: str,
        preference: Preference,
        *,
        grant: ExceptionScope | None = None,
        has_subject: bool = True,
    ) -> Explanation:
        """What the gate would keep, share and record, without an event."""
        return self._plan(self._check(dataset), preference, grant, has_subject).explanation

    def validate(self, dataset: str, name: str, value: object) -> object:
        """Check one value against its declared field (used for corrections)."""
        check = self._check(dataset)
        validator = check.validators.get(name) if isinstance(name, str) else None
        if validator is None:
            raise GateError(
                f"{dataset}.{_short(name)}: not declared in the inventory; "
                "undeclared fields are refused",
                field=f"{dataset}.{name}",
                dataset=dataset,
            )
        return validator(value)

    # -- internals ---------------------------------------------------------
    def _check(self, dataset: str) -> _DatasetCheck:
        check = self._checks.get(dataset) if type(dataset) is str else None
        if check is None:
            raise GateError(
                f"dataset {_short(dataset)} is not declared in {self.inventory.source}",
                field="dataset",
            )
        return check

    def check(
        self,
        dataset: str,
        fields: Mapping[str, object],
        preference: Preference,
        *,
        subject: str | None = None,
        visitor_hash: str | None = None,
        grant: ExceptionScope | None = None,
        ts: float | None = None,
    ) -> Record | None:
        """:meth:`admit` without the explanation: the ingest hot path."""
        check = self._check(dataset)
        plan = self._plan(check, preference, grant, subject is not None)
        return self._apply(check, plan, fields, subject, visitor_hash, ts, None)

    def check_json(
        self,
        dataset: str,
        fields: Mapping[str, object],
        preference: Preference,
        subject: str | None = None,
        visitor_hash: str | None = None,
        grant: ExceptionScope | None = None,
        ts: float | None = None,
    ) -> Encoded | None:
        """:meth:`check` that returns the kept fields as JSON text.

        The ledger's ingest path: one pass validates every value and writes
        the kept ones, with the same rules and errors as :meth:`admit`.
        Returns ``None`` when nothing may be kept, else ``(ts, subject,
        visitor_hash, fields_json, plan)``. Written for speed: the common
        case (valid text) is checked inline, everything else goes through
        the same validators as :meth:`admit`.
        """
        check = self._checks.get(dataset) if type(dataset) is str else None
        if check is None:
            check = self._check(dataset)
        has_subject = subject is not None
        hit = check.recent.get(id(preference))
        if hit is not None and hit[0] is preference and hit[1] is grant and hit[2] is has_subject:
            plan = hit[3]
        else:
            plan = self._plan(check, preference, grant, has_subject)
            if len(check.recent) > 256:
                check.recent.clear()
            check.recent[id(preference)] = (preference, grant, has_subject, plan)
        if type(fields) is not dict and not isinstance(fields, Mapping):
            raise GateError(
                f"{dataset}: fields must be a mapping of names to values",
                field="fields",
                dataset=dataset,
            )
        if ts is not None and check.short_lived:
            # A backdated event may already be past some fields' retention.
            record = self._apply(check, plan, fields, subject, visitor_hash, ts, None)
            if record is None:
                return None
            members = [check.encoders[n](v) for n, v in record.fields.items()]
            return (
                record.ts,
                record.subject,
                record.visitor_hash,
                "{" + ",".join(members) + "}",
                plan,
            )
        inline = plan.inline
        keep = plan.keep
        parts: list[str] = []
        append = parts.append
        for name, value in fields.items():
            fast = inline.get(name)
            if fast is not None:
                if fast[0]:  # text
                    if type(value) is str and len(value) <= fast[2] and value.isprintable():
                        if fast[4]:
                            append(fast[1] + encode_basestring_ascii(value))
                        continue
                elif type(value) is int and fast[2] <= value <= fast[3]:
                    if fast[4]:
                        append(fast[1] + int.__repr__(value))
                    continue
            encode = check.encoders.get(name)
            if encode is None:
                raise self._undeclared(dataset, name)
            if value is not None:
                member = encode(value)
                if name in keep:
                    append(member)
        if check.required:
            self._require(check, fields)
        if (
            ts is None
            and subject is None
            and (
                visitor_hash is None
                or (
                    type(visitor_hash) is str
                    and 0 < len(visitor_hash) <= MAX_REF_LENGTH
                    and visitor_hash.isprintable()
                )
            )
        ):
            ts = self.clock()
        else:
            ts, subject, visitor_hash = self._refs_and_time(
                dataset, subject, visitor_hash, ts, check.dataset.retention
            )
        if not plan.stores:
            return None
        return (
            ts,
            subject if plan.keep_subject else None,
            visitor_hash if plan.keep_visitor else None,
            "{" + ",".join(parts) + "}",
            plan,
        )

    def _require(self, check: _DatasetCheck, fields: Mapping[str, object]) -> None:
        ds = check.dataset.name
        for name in check.required:
            if fields.get(name) is None:
                raise GateError(
                    f"{ds}.{name}: required but missing", field=f"{ds}.{name}", dataset=ds
                )

    def _refs_and_time(
        self,
        ds: str,
        subject: str | None,
        visitor_hash: str | None,
        ts: float | None,
        retention: Duration,
    ) -> tuple[float, str | None, str | None]:
        if subject is not None and not (
            type(subject) is str and 0 < len(subject) <= MAX_REF_LENGTH and subject.isprintable()
        ):
            _check_ref(subject, "subject", ds)
        if visitor_hash is not None and not (
            type(visitor_hash) is str
            and 0 < len(visitor_hash) <= MAX_REF_LENGTH
            and visitor_hash.isprintable()
        ):
            _check_ref(visitor_hash, "visitor_hash", ds)
        now = self.clock()
        if ts is None:
            return now, subject, visitor_hash
        if type(ts) is not float and (isinstance(ts, bool) or not isinstance(ts, int)):
            raise GateError(f"ts: expected epoch seconds, got {_short(ts)}", field="ts", dataset=ds)
        ts = float(ts)
        if not math.isfinite(ts):
            raise GateError(f"ts: {ts} is not a time", field="ts", dataset=ds)
        if ts > now + self.max_skew:
            raise GateError("ts: the event is dated in the future", field="ts", dataset=ds)
        if ts <= retention.cutoff(now + self.life_for(retention)):
            raise GateError(
                f"ts: {ds} keeps events {retention}; this one is (nearly) that old "
                "already, so it is not stored",
                field="ts",
                dataset=ds,
            )
        return ts, subject, visitor_hash

    def life_for(self, retention: Duration) -> float:
        """The life a backdated value must have left to be stored at all."""
        return min(self.min_life, retention.min_seconds / 2)

    def _apply(
        self,
        check: _DatasetCheck,
        plan: Plan,
        fields: Mapping[str, object],
        subject: str | None,
        visitor_hash: str | None,
        ts: float | None,
        dropped: list[str] | None,
    ) -> Record | None:
        """Validate every value, then keep what the plan allows.

        ``dropped``, when given, collects the names of values not kept.
        """
        ds = check.dataset.name
        if type(fields) is not dict and not isinstance(fields, Mapping):
            raise GateError(
                f"{ds}: fields must be a mapping of names to values", field="fields", dataset=ds
            )
        validators = check.validators
        keep = plan.keep
        kept: dict[str, object] = {}
        for name, value in fields.items():
            validator = validators.get(name)
            if validator is None:
                raise self._undeclared(ds, name)
            if value is None:
                continue
            value = validator(value)
            if name in keep:
                kept[name] = value
            elif dropped is not None:
                dropped.append(name)
        if check.required:
            self._require(check, fields)
        given = ts is not None
        ts, subject, visitor_hash = self._refs_and_time(
            ds, subject, visitor_hash, ts, check.dataset.retention
        )
        if given and check.short_lived:
            now = self.clock()
            for spec in check.short_lived:
                life = self.life_for(spec.retention)
                if spec.name in kept and ts <= spec.retention.cutoff(now + life):
                    del kept[spec.name]
                    if dropped is not None:
                        dropped.append(spec.name)
        if not plan.stores:
            if dropped is not None:
                dropped[:] = list(fields)
            return None
        if subject is not None and not plan.keep_subject:
            subject = None
            if dropped is not None:
                dropped.append("subject")
        if visitor_hash is not None and not plan.keep_visitor:
            visitor_hash = None
            if dropped is not None:
                dropped.append("visitor_hash")
        return Record(
            ds,
            ts,
            subject,
            visitor_hash,
            kept,
            plan.purposes,
            plan.recipients,
            plan.preference,
            plan.sealed,
            plan.explanation,
        )

    @staticmethod
    def _undeclared(ds: str, name: object) -> GateError:
        if type(name) is str and _PLAIN_NAME.match(name):
            return GateError(
                f"{ds}.{name}: not declared in the inventory; undeclared fields are refused",
                field=f"{ds}.{name}",
                dataset=ds,
            )
        return GateError(
            f"{ds}: the field name {_short(name)} is not declared in the inventory; "
            "undeclared fields are refused",
            field=f"{ds}.?",
            dataset=ds,
        )

    def _plan(
        self,
        check: _DatasetCheck,
        pref: Preference,
        grant: ExceptionScope | None,
        has_subject: bool,
    ) -> Plan:
        key = (pref.state, pref.source, pref.sources, pref.conflicts, grant, has_subject)
        plan = check.plans.get(key)
        if plan is None:
            plan = self._make_plan(check.dataset, pref, grant, has_subject)
            if len(check.plans) > 4096:  # preferences have few shapes; never grow unbounded
                check.plans.clear()
            check.plans[key] = plan
        return plan

    def _make_plan(
        self, ds: Dataset, pref: Preference, grant: ExceptionScope | None, has_subject: bool
    ) -> Plan:
        decision = decide(pref, self.role)
        signal = "+".join(s.value for s in pref.sources)
        under_exception = pref.state is PreferenceState.ALLOW and pref.source is Source.EXCEPTION
        if under_exception and grant is None:
            grant = ExceptionScope()
        # What applies to anything the exception does not cover: the preference
        # the exception overrode (the core resolves it again without it).
        base = decide(resolve(pref.dnt, pref.gpc, precedence=self.precedence), self.role)
        base_signal = "+".join(s.value for s in base.preference.sources)
        rules: list[Rule] = []

        def verdict(purpose: str) -> tuple[Verdict, str]:
            if under_exception and grant is not None and not grant.covers_purpose(purpose):
                v = self._verdict(base, purpose)
                return Verdict(
                    v.allowed, f"not covered by the exception granted; {v.reason}"
                ), base_signal
            return self._verdict(decision, purpose), signal

        allowed: list[str] = []
        for p in ds.purposes:
            v, sig = verdict(p)
            rules.append(Rule("purpose", p, "allowed" if v.allowed else "refused", sig, v.reason))
            if v.allowed:
                allowed.append(p)
        allowed_set = frozenset(allowed)
        stores = bool(allowed)
        if not stores:
            rules.append(
                Rule(
                    "dataset",
                    ds.name,
                    "refused",
                    signal,
                    "no purpose of this dataset is allowed: nothing is kept",
                )
            )
        may_track = decision.may_track
        track_reason = (
            f"identifiers are kept ({pref.state.value})"
            if may_track
            else f"do-not-track ({signal.upper()}): no identifier is kept"
        )
        rules.append(
            Rule("identifier", "subject", "kept" if may_track else "dropped", signal, track_reason)
        )
        rules.append(
            Rule(
                "identifier",
                "visitor_hash",
                "kept" if may_track else "dropped",
                signal,
                track_reason,
            )
        )
        keep: set[str] = set()
        sealed: list[str] = []
        for name, spec in ds.fields.items():
            useful = [p for p in spec.purposes if p in allowed_set]
            if spec.is_identifier and not may_track:
                rules.append(
                    Rule(
                        "field",
                        name,
                        "dropped",
                        signal,
                        f"a {spec.identifier.value} identifier; "
                        f"do-not-track ({signal.upper()}) keeps none",
                    )
                )
            elif not useful:
                rules.append(
                    Rule(
                        "field",
                        name,
                        "dropped",
                        signal,
                        "none of its purposes is allowed: " + ", ".join(spec.purposes),
                    )
                )
            elif spec.is_sensitive and not has_subject:
                rules.append(
                    Rule(
                        "field",
                        name,
                        "dropped",
                        signal,
                        "sensitive data is kept only under a subject's own key, "
                        "and this event has no subject",
                    )
                )
            elif spec.is_sensitive:
                keep.add(name)
                sealed.append(name)
                rules.append(
                    Rule(
                        "field",
                        name,
                        "sealed",
                        signal,
                        "kept encrypted with the subject's key for: " + ", ".join(useful),
                    )
                )
            else:
                keep.add(name)
                rules.append(Rule("field", name, "kept", signal, "kept for: " + ", ".join(useful)))
        recipients: list[str] = []
        for rid in ds.recipients:
            r = self.inventory.recipients[rid]
            serves = [p for p in r.purposes if p in allowed_set]
            if r.purposes and not serves:
                rules.append(
                    Rule(
                        "recipient",
                        rid,
                        "withheld",
                        signal,
                        "none of the purposes it receives data for is allowed",
                    )
                )
                continue
            if r.service_provider:
                recipients.append(rid)
                rules.append(
                    Rule(
                        "recipient",
                        rid,
                        "shared",
                        signal,
                        "a service provider acting only for the site",
                    )
                )
                continue
            if under_exception and grant is not None and not grant.covers_recipient(rid):
                share = base.may(Purpose.SHARING)
                if share.allowed:
                    recipients.append(rid)
                rules.append(
                    Rule(
                        "recipient",
                        rid,
                        "shared" if share.allowed else "withheld",
                        base_signal,
                        f"not covered by the exception granted; {share.reason}",
                    )
                )
                continue
            share = decision.may(Purpose.SHARING)
            if share.allowed:
                recipients.append(rid)
            rules.append(
                Rule(
                    "recipient",
                    rid,
                    "shared" if share.allowed else "withheld",
                    signal,
                    share.reason,
                )
            )
        explanation = Explanation(
            dataset=ds.name,
            role=self.role.value,
            preference=pref.state.value,
            source=pref.source.value,
            signals=tuple(s.value for s in pref.sources),
            rules=tuple(rules),
            grant=grant if under_exception else None,
        )
        return Plan(
            keep=frozenset(keep),
            sealed=tuple(sealed),
            purposes=tuple(allowed),
            recipients=tuple(recipients),
            keep_subject=may_track,
            keep_visitor=may_track,
            preference=pref.state.value,
            explanation=explanation,
            stores=stores,
            inline=_inline_checks(ds, keep),
        )

    def _verdict(self, decision: Decision, purpose: str) -> Verdict:
        spec = self.inventory.purposes.get(purpose)
        if spec is None:
            return decision.may(purpose)
        if spec.counts_as is not None:
            v = decision.may(spec.counts_as)
            return Verdict(v.allowed, f"{purpose} (judged as {spec.counts_as.value}): {v.reason}")
        # A site-defined purpose is never a permitted use: judged like a use
        # that crosses contexts, open only where the core lets identifiers be kept.
        if decision.may_track:
            return Verdict(
                True,
                f"{purpose}: a site-defined purpose, open under {decision.preference.state.value}",
            )
        return Verdict(
            False,
            f"{purpose}: a site-defined purpose is not a permitted use; refused under do-not-track",
        )
