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
few dictionary lookups and one type check per field. Batches
(:meth:`Gate.check_json_many`) are checked column by column, with the same
rules and the same errors, several times faster than event by event.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from json.encoder import encode_basestring_ascii
from operator import attrgetter, getitem, is_not, itemgetter, mul
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
    "GatedBatch",
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


@dataclass(frozen=True, slots=True)
class GatedBatch:
    """:meth:`Gate.check_json_many`'s answer, column by column.

    Columns rather than one tuple per event because ingest stores them as
    they are: ``index[k]`` is the position in the batch of the ``k``-th
    event to store, and ``datasets[k]``, ``ts[k]``, ``subjects[k]``,
    ``visitor_hashes[k]``, ``fields[k]`` (JSON text) and ``plans[k]`` are
    what :meth:`Gate.check_json` would have returned for it. ``refused``
    holds ``(position, error)`` in batch order; ``withheld`` counts events
    the preference left nothing to keep of. ``sealed`` lists the positions
    of events with fields that must be encrypted with the subject's key:
    they are not encoded here, so that nobody can store them in clear by
    mistake; a caller that can seal checks them with :meth:`Gate.check`.
    """

    index: list[int]
    datasets: list[str]
    ts: list[float]
    subjects: list[str | None]
    visitor_hashes: list[str | None]
    fields: list[str]
    plans: list[Plan]
    withheld: int = 0
    refused: list[tuple[int, GateError]] = field(default_factory=list)
    sealed: list[int] = field(default_factory=list)


#: Checks a whole column of one field's values, given the set of their types:
#: :data:`_REFUSED` unless every value is plainly valid, :data:`_PLAIN` if they
#: are also ASCII text that JSON writes as is between quotes, else :data:`_VALID`.
ColumnCheck = Callable[[Sequence[object], set[type]], int]
#: Writes a checked column as JSON values.
ColumnEncoder = Callable[[Sequence[object]], Iterable[str]]
_REFUSED, _VALID, _PLAIN = 0, 1, 2

_NONE = type(None)
_TEXT: set[type] = {str}
_INTEGER: set[type] = {int}
_BOOLEAN: set[type] = {bool}
_NUMBER: set[type] = {int, float}
_ABSENT: set[type] = {_NONE}
_TEXT_OR_ABSENT: set[type] = {str, _NONE}
_TIME_OR_ABSENT: set[type] = {int, float, _NONE}
_JSON_BOOL = {True: "true", False: "false"}


#: What ASCII has that is not printable.
_ASCII_CONTROLS = bytes(range(0x20)) + b"\x7f"


def _printable(text: str) -> bool:
    """``text.isprintable()``, several times faster for ASCII, which most text is."""
    if text.isascii():
        data = text.encode("ascii")
        return len(data.translate(None, _ASCII_CONTROLS)) == len(data)
    return text.isprintable()


def _encode_text(col: Sequence[object]) -> Iterable[str]:
    return map(encode_basestring_ascii, cast(Sequence[str], col))


def _encode_repr(col: Sequence[object]) -> Iterable[str]:
    return map(repr, col)


def _encode_bool(col: Sequence[object]) -> Iterable[str]:
    return map(_JSON_BOOL.__getitem__, cast(Sequence[bool], col))


def _column(spec: FieldSpec) -> tuple[ColumnCheck, ColumnEncoder]:
    """The batch path's check and encoder for one field.

    The check clears a column in a few C-level passes (one set of types, one
    ``max`` of lengths, one scan of the values joined) or not at all: a
    column it does not clear goes back to the per-event validators, which
    name the bad value. So it may be stricter than :func:`_validator`, never
    laxer. Text is printable iff the values joined are, and printable ASCII
    without quotes or backslashes is its own JSON, so most text columns are
    never escaped value by value.
    """
    if spec.type is FieldType.STRING:
        limit = spec.max_length

        def text_ok(col: Sequence[object], types: set[type]) -> int:
            texts = cast(Sequence[str], col)
            if types != _TEXT or max(map(len, texts)) > limit:
                return _REFUSED
            joined = "".join(texts)
            if not _printable(joined):
                return _REFUSED  # some may still pass (not every unprintable is hostile)
            if joined.isascii() and '"' not in joined and "\\" not in joined:
                return _PLAIN
            return _VALID

        return text_ok, _encode_text
    if spec.type is FieldType.BOOLEAN:
        return (lambda col, types: _VALID if types == _BOOLEAN else _REFUSED), _encode_bool
    lo: float = -_MAX_INT if spec.minimum is None else max(-_MAX_INT, spec.minimum)
    hi: float = _MAX_INT if spec.maximum is None else min(_MAX_INT, spec.maximum)
    if spec.type is FieldType.INTEGER:

        def integer_ok(col: Sequence[object], types: set[type]) -> int:
            ints = cast(Sequence[int], col)
            if types == _INTEGER and lo <= min(ints) and max(ints) <= hi:
                return _VALID
            return _REFUSED

        return integer_ok, _encode_repr

    def number_ok(col: Sequence[object], types: set[type]) -> int:
        if not types <= _NUMBER:
            return _REFUSED
        numbers = cast(Sequence[float], col)
        if float in types:
            try:
                if not all(map(math.isfinite, numbers)):
                    return _REFUSED
            except OverflowError:  # an integer too large for a float
                return _REFUSED
        return _VALID if lo <= min(numbers) and max(numbers) <= hi else _REFUSED

    return number_ok, _encode_repr


def _values(
    names: tuple[str, ...], dicts: Sequence[Mapping[str, object]]
) -> list[Sequence[object]]:
    """The values of ``names`` in every mapping, by name (KeyError if one lacks a name).

    One pass per name rather than one tuple per event: nothing is made per
    event, so the garbage collector has nothing more to scan.
    """
    return [list(map(itemgetter(name), dicts)) for name in names]


def _picker(positions: list[int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """Takes the items at ``positions`` from a sequence, in one C-level call."""
    if len(positions) == 1:
        only = positions[0]
        return lambda seq: (seq[only],)
    return cast(Callable[[Sequence[Any]], Sequence[Any]], itemgetter(*positions))


def _refs_ok(refs: Sequence[object]) -> bool:
    """Subject references or visitor hashes (text) that are all plainly valid."""
    texts = cast(Sequence[str], refs)
    return (
        min(map(len, texts)) > 0
        and max(map(len, texts)) <= MAX_REF_LENGTH
        and _printable("".join(texts))
    )


_KEEP_SUBJECT = attrgetter("keep_subject")
_KEEP_VISITOR = attrgetter("keep_visitor")
_STORES = attrgetter("stores")


def _kept(refs: Sequence[Any], keep: Iterable[bool]) -> list[Any]:
    """``ref if keep else None`` for each pair, in one C-level pass."""
    return list(map(getitem, zip(repeat(None), refs), keep))


@dataclass(slots=True)
class _DatasetCheck:
    dataset: Dataset
    validators: dict[str, Validator]
    #: Validate and return the value's JSON member text (``"name":value``).
    encoders: dict[str, Callable[[object], str]]
    required: tuple[str, ...]
    #: Fields whose own retention is shorter than the dataset's.
    short_lived: tuple[FieldSpec, ...] = ()
    #: Whether any field is sensitive (kept only under a subject's key).
    sensitive: bool = False
    #: Column checks and encoders for :meth:`Gate.check_json_many`.
    columns: dict[str, tuple[ColumnCheck, ColumnEncoder]] = field(default_factory=dict)
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
                raise GateError(f"{name}: {_short(v)} is out of range", field=name, dataset=ds)
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
            # The range first: math.isfinite raises on an integer too large for
            # a float, and NaN fails the comparison anyway.
            if not -_MAX_INT <= v <= _MAX_INT or not math.isfinite(v):
                raise GateError(
                    f"{name}: {_short(v)} is not a finite number in range",
                    field=name,
                    dataset=ds,
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
                sensitive=any(spec.is_sensitive for spec in ds.fields.values()),
                columns={f: _column(spec) for f, spec in ds.fields.items()},
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

    def check_json_many(self, events: Sequence[Sequence[Any]]) -> GatedBatch:
        """:meth:`check_json` for a whole batch, column by column.

        ``events`` are :class:`~trackpref.ledger.Event`-shaped: ``(dataset,
        fields, preference, subject, visitor_hash, grant, ts)``. The rules,
        errors and output are those of :meth:`check_json` on each event, in
        order, except that events without a time all get the one time the
        batch was checked at.

        Why columns: in Python the interpreter's loop costs more than the
        checks. Events are grouped by dataset and field names; each group's
        names are checked against the inventory once, and each field's values
        are checked and written to JSON in C-level passes (one set of types,
        one ``max`` of lengths, one scan of the values joined, one ``map`` of
        the JSON escaper where needed, one ``str.join`` per row). Plans are
        found once per distinct preference object. Whatever these passes do
        not clear (a bad value, an odd type, a backdated time, an undeclared
        name) goes back to :meth:`check_json` one event at a time, which names
        the problem: a batch with bad input is slower, never judged differently.
        """
        n = len(events)
        if n == 0:
            return GatedBatch([], [], [], [], [], [], [])
        try:
            ds_col, f_col, p_col, s_col, v_col, g_col, t_col = zip(*events, strict=True)
            plan_col, plans = self._plans_of(ds_col, p_col, s_col, g_col)
        except (TypeError, ValueError):  # not Event-shaped, or unhashable parts
            return self._one_by_one(events, [None] * n, range(n), [])
        slow: set[int] = set()
        sealed: list[int] = []
        if any(p is None or p.sealed for p in plans):
            for i, p in enumerate(plan_col):
                if p is None:
                    slow.add(i)
                elif p.sealed:
                    sealed.append(i)
        # Types first: only then are == and min/max safe on the values.
        for refs in (s_col, v_col):
            kinds = set(map(type, refs))
            if kinds == _ABSENT:
                continue
            if kinds <= _TEXT_OR_ABSENT and _refs_ok(
                refs if _NONE not in kinds else [r for r in refs if r is not None]
            ):
                continue
            slow.update(i for i, r in enumerate(refs) if r is not None)
        now = self.clock()
        ts_col: list[float] = [now] * n
        kinds = set(map(type, t_col))
        if kinds != _ABSENT:
            given = [t for t in t_col if t is not None]
            checks = [self._checks[d] for d in set(ds_col) if d in self._checks]
            if kinds <= _TIME_OR_ABSENT and self._times_ok(given, now, checks):
                ts_col = [now if t is None else float(t) for t in t_col]
            else:
                slow.update(i for i, t in enumerate(t_col) if t is not None)
        skip = slow.union(sealed)
        cand: Sequence[int] = range(n) if not skip else [i for i in range(n) if i not in skip]
        if set(map(type, f_col)) != {dict}:  # other mappings: one by one
            slow.update(i for i in cand if type(f_col[i]) is not dict)
            skip = slow.union(sealed)
            cand = [i for i in range(n) if i not in skip]
        dicts = f_col if not skip else [f_col[i] for i in cand]
        datasets = ds_col if not skip else [ds_col[i] for i in cand]
        pieces: list[tuple[Sequence[int], list[str]]] = []
        if dicts:
            # The usual batch: one dataset, every event with the same names.
            names = tuple(dicts[0])
            cols: list[Sequence[object]] | None = None
            if datasets.count(datasets[0]) == len(datasets) and set(map(len, dicts)) == {
                len(names)
            }:
                try:
                    cols = _values(names, dicts)
                except KeyError:
                    cols = None
            if cols is not None:
                check = self._checks[datasets[0]]
                self._encode_group(check, names, cand, f_col, plan_col, cols, pieces, slow)
            else:
                groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
                shapes = zip(datasets, map(tuple, dicts), strict=True)
                for i, shape in zip(cand, shapes, strict=True):
                    members = groups.get(shape)
                    if members is None:
                        groups[shape] = [i]
                    else:
                        members.append(i)
                for (ds, names), members in groups.items():
                    check = self._checks[ds]
                    self._encode_group(check, names, members, f_col, plan_col, None, pieces, slow)
        slow.difference_update(sealed)
        if not slow and not sealed and sum(len(p[0]) for p in pieces) == n:
            # Every event cleared, in one group or several (absent values
            # split a group): the texts go back in batch order by C-level maps.
            if len(pieces) == 1:
                texts = pieces[0][1]
            else:
                by_position: dict[int, str] = {}
                for positions, group_texts in pieces:
                    by_position.update(zip(positions, group_texts, strict=True))
                texts = list(map(by_position.__getitem__, range(n)))
            return self._fast_columns(ds_col, ts_col, s_col, v_col, texts, plan_col, plans)
        json_col: list[str | None] = [None] * n
        for positions, texts in pieces:
            for i, text in zip(positions, texts, strict=True):
                json_col[i] = text
        return self._one_by_one(events, json_col, sorted(slow), sealed, ts_col, plan_col)

    def check_json_columns(
        self,
        dataset: str,
        fields: Mapping[str, Sequence[object]],
        pref: Preference,
        visitor_hashes: Sequence[str | None],
    ) -> GatedBatch:
        """:meth:`check_json_many` for events of one dataset and one preference,
        without subjects, grants or times, given as columns of field values.

        A collector holds its batch as columns already; building a dict per
        event only for the gate to take the dicts apart again costs more than
        the checks. Event ``i`` is ``(dataset, {name: fields[name][i]},
        pref, None, visitor_hashes[i], None, None)``, and the answer is the one
        :meth:`check_json_many` gives for those events (a property test holds
        it to that): whatever the column checks do not clear goes to it.
        """
        n = len(visitor_hashes)
        names = tuple(fields)
        cols = list(fields.values())
        check = self._checks.get(dataset)
        if n and check is not None and all(len(col) == n for col in cols):
            ds_col = [dataset] * n
            nones: list[None] = [None] * n
            plan_col, plans = self._plans_of(ds_col, [pref] * n, nones, nones)
            kinds = set(map(type, visitor_hashes))
            if (
                not any(p is None or p.sealed for p in plans)
                and kinds <= _TEXT_OR_ABSENT
                and (kinds == _ABSENT or _refs_ok([v for v in visitor_hashes if v is not None]))
            ):
                pieces: list[tuple[Sequence[int], list[str]]] = []
                slow: set[int] = set()
                self._encode_group(check, names, range(n), (), plan_col, cols, pieces, slow)
                if not slow and sum(len(p[0]) for p in pieces) == n:
                    by_position: dict[int, str] = {}
                    for positions, group_texts in pieces:
                        by_position.update(zip(positions, group_texts, strict=True))
                    texts = list(map(by_position.__getitem__, range(n)))
                    ts_col = [self.clock()] * n
                    return self._fast_columns(
                        ds_col, ts_col, nones, list(visitor_hashes), texts, plan_col, plans
                    )
        rows = zip(*cols, strict=True) if cols else repeat((), n)
        return self.check_json_many(
            [
                (dataset, dict(zip(names, row, strict=True)), pref, None, vh, None, None)
                for row, vh in zip(rows, visitor_hashes, strict=True)
            ]
        )

    def _plans_of(
        self,
        ds_col: Sequence[str],
        p_col: Sequence[Preference],
        s_col: Sequence[str | None],
        g_col: Sequence[ExceptionScope | None],
    ) -> tuple[list[Any], list[Plan | None]]:
        """Each event's plan (None: undeclared dataset), and the distinct ones.

        Found once per distinct preference object: the objects live as long
        as the batch, so their ids are safe keys. Whether there is a subject
        matters only to sensitive fields, and grants are rare, so the usual
        batch is keyed by the preference alone.
        """
        n = len(ds_col)
        first = ds_col[0]
        check = self._checks.get(first) if type(first) is str else None
        if (
            check is not None
            and not check.sensitive
            and ds_col.count(first) == n
            and g_col.count(None) == n
        ):
            ids = list(map(id, p_col))
            by_id = {pid: self._plan(check, p_col[ids.index(pid)], None, False) for pid in set(ids)}
            return list(map(by_id.__getitem__, ids)), list(by_id.values())
        keys = list(
            zip(ds_col, map(id, p_col), g_col, map(is_not, s_col, repeat(None)), strict=True)
        )
        plans: dict[tuple[Any, ...], Plan | None] = {}
        for key, i in dict(zip(keys, range(n), strict=True)).items():
            check = self._checks.get(key[0]) if type(key[0]) is str else None
            plans[key] = None if check is None else self._plan(check, p_col[i], key[2], key[3])
        return list(map(plans.__getitem__, keys)), list(plans.values())

    def _fast_columns(
        self,
        ds_col: Sequence[str],
        ts_col: list[float],
        s_col: Sequence[str | None],
        v_col: Sequence[str | None],
        json_col: list[str],
        plan_col: list[Any],
        plans: list[Any],
    ) -> GatedBatch:
        """The common case: every event cleared by the column checks."""
        n = len(plan_col)
        flags: dict[Callable[[Any], bool], list[bool]] = {}

        def kept(refs: Sequence[str | None], keep: Callable[[Any], bool]) -> list[str | None]:
            if refs.count(None) == n or all(map(keep, plans)):
                return list(refs)
            if not any(map(keep, plans)):
                return [None] * n
            if keep not in flags:
                flags[keep] = list(map(keep, plan_col))
            return _kept(refs, flags[keep])

        subjects = kept(s_col, _KEEP_SUBJECT)
        # Both are kept under the same rule (may the person be tracked?).
        if all(p.keep_subject == p.keep_visitor for p in plans) and _KEEP_SUBJECT in flags:
            flags[_KEEP_VISITOR] = flags[_KEEP_SUBJECT]
        visitors = kept(v_col, _KEEP_VISITOR)
        if all(map(_STORES, plans)):
            return GatedBatch(
                list(range(n)), list(ds_col), ts_col, subjects, visitors, json_col, plan_col
            )
        stores = list(map(_STORES, plan_col))
        return GatedBatch(
            list(compress(range(n), stores)),
            list(compress(ds_col, stores)),
            list(compress(ts_col, stores)),
            list(compress(subjects, stores)),
            list(compress(visitors, stores)),
            list(compress(json_col, stores)),
            list(compress(plan_col, stores)),
            withheld=n - sum(stores),
        )

    def _one_by_one(
        self,
        events: Sequence[Sequence[Any]],
        json_col: list[str | None],
        slow: Iterable[int],
        sealed: list[int],
        ts_col: list[float] | None = None,
        plan_col: list[Any] | None = None,
    ) -> GatedBatch:
        """Merge the events the column checks cleared with the others, checked one by one."""
        n = len(events)
        out: list[Encoded | None] = [None] * n
        withheld = 0
        if ts_col is not None and plan_col is not None:
            for i, text in enumerate(json_col):
                if text is None:
                    continue
                plan = plan_col[i]
                if not plan.stores:
                    withheld += 1
                    continue
                e = events[i]
                out[i] = (
                    ts_col[i],
                    e[3] if plan.keep_subject else None,
                    e[4] if plan.keep_visitor else None,
                    text,
                    plan,
                )
        refused: list[tuple[int, GateError]] = []
        for i in slow:
            try:
                enc = self.check_json(*events[i])
            except GateError as exc:
                refused.append((i, exc))
                continue
            if enc is None:
                withheld += 1
            else:
                out[i] = enc
        index = [i for i, enc in enumerate(out) if enc is not None]
        kept = [cast(Encoded, out[i]) for i in index]
        return GatedBatch(
            index,
            [events[i][0] for i in index],
            [e[0] for e in kept],
            [e[1] for e in kept],
            [e[2] for e in kept],
            [e[3] for e in kept],
            [e[4] for e in kept],
            withheld=withheld,
            refused=refused,
            sealed=sealed,
        )

    def _times_ok(self, given: list[Any], now: float, checks: list[_DatasetCheck]) -> bool:
        """Event times (numbers) all plainly valid and young enough to drop no field."""
        try:
            if not all(map(math.isfinite, given)):
                return False
        except OverflowError:
            return False
        if max(given) > now + self.max_skew:
            return False
        floor = -math.inf
        for check in checks:
            for retention in (check.dataset.retention, *(s.retention for s in check.short_lived)):
                floor = max(floor, retention.cutoff(now + self.life_for(retention)))
        return bool(min(given) > floor)

    def _encode_group(
        self,
        check: _DatasetCheck,
        names: tuple[str, ...],
        members: Sequence[int],
        f_col: Sequence[Mapping[str, object]],
        plan_col: list[Any],
        cols: list[Sequence[object]] | None,
        pieces: list[tuple[Sequence[int], list[str]]],
        slow: set[int],
    ) -> None:
        """Check and encode the events of one dataset with the same field names.

        Appends ``(members, JSON texts)`` to ``pieces``, or, if a column
        check does not clear the group, puts its members in ``slow``.
        ``cols`` are the values by field if the caller has them already.
        """
        columns = check.columns
        if not all(map(columns.__contains__, names)) or not set(check.required) <= set(names):
            slow.update(members)
            return
        if cols is None:
            cols = _values(names, [f_col[i] for i in members])
        types = [set(map(type, col)) for col in cols]
        holes = [j for j, t in enumerate(types) if _NONE in t]
        if holes:
            # A None value means "absent": split the group by which values are.
            parts: dict[tuple[bool, ...], list[int]] = {}
            present = zip(*(map(is_not, cols[j], repeat(None)) for j in holes), strict=True)
            for k, mask in enumerate(present):
                part = parts.get(mask)
                if part is None:
                    parts[mask] = [k]
                else:
                    part.append(k)
            for mask, part in parts.items():
                absent = {j for j, there in zip(holes, mask, strict=True) if not there}
                kept = [j for j in range(len(names)) if j not in absent]
                pick = _picker(part)
                self._encode_group(
                    check,
                    tuple(names[j] for j in kept),
                    pick(members),
                    f_col,
                    plan_col,
                    [pick(cols[j]) for j in kept],
                    pieces,
                    slow,
                )
            return
        verdicts = []
        for name, col, t in zip(names, cols, types, strict=True):
            verdict = columns[name][0](col, t)
            if verdict == _REFUSED:
                slow.update(members)
                return
            verdicts.append(verdict)
        group_plans = plan_col if len(members) == len(plan_col) else [plan_col[i] for i in members]
        distinct = dict(zip(map(id, group_plans), group_plans, strict=True))
        keepers = [{pid for pid, p in distinct.items() if name in p.keep} for name in names]
        wanted = [j for j in range(len(names)) if keepers[j]]
        if not wanted:
            pieces.append((members, ["{}"] * len(members)))
            return
        # The first member must be one every plan keeps: it opens the object
        # without a comma, and the others, kept or not, follow it.
        lead = next((j for j in wanted if len(keepers[j]) == len(distinct)), None)
        if lead is None:  # no field kept by all: one plan at a time
            by_plan: dict[int, list[int]] = {}
            for k, pid in enumerate(map(id, group_plans)):
                by_plan.setdefault(pid, []).append(k)
            for part in by_plan.values():
                pick = _picker(part)
                sub_cols = [pick(col) for col in cols]
                self._encode_group(
                    check, names, pick(members), f_col, plan_col, sub_cols, pieces, slow
                )
            return
        pids = list(map(id, group_plans)) if len(distinct) > 1 else []
        segments: list[Iterable[str]] = []
        text = "{"
        for j in [lead, *(j for j in wanted if j != lead)]:
            plain = verdicts[j] == _PLAIN
            quote = '"' if plain else ""
            member = f'{"" if j == lead else ","}"{names[j]}":{quote}'
            values = cols[j] if plain else columns[names[j]][1](cols[j])
            if len(keepers[j]) == len(distinct):
                segments += (repeat(text + member), cast(Iterable[str], values))
                text = quote
                continue
            # Kept or not, event by event: text * True is the text, text * False is "".
            keep = list(map(keepers[j].__contains__, pids))
            segments += (
                repeat(text),
                map(mul, repeat(member), keep),
                map(mul, cast(Iterable[str], values), keep),
            )
            if plain:
                segments.append(map(mul, repeat(quote), keep))
            text = ""
        segments.append(repeat(text + "}"))
        pieces.append((members, list(map("".join, zip(*segments, strict=False)))))

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
        track_signal = signal
        track_reason = (
            f"identifiers are kept ({pref.state.value})"
            if may_track
            else f"do-not-track ({signal.upper()}): no identifier is kept"
        )
        # An exception limited to some purposes lets identifiers through only for
        # those: one granted for purposes this dataset has none of (or none it
        # may use) leaves the identifiers where the overridden preference put them.
        limited = under_exception and grant is not None and grant.purposes is not None
        if limited and may_track and not base.may_track:
            assert grant is not None  # limited says so; for mypy
            if not any(grant.covers_purpose(p) for p in allowed):
                may_track = False
                track_signal = base_signal
                track_reason = (
                    "not covered by the exception granted (none of this dataset's allowed "
                    f"purposes); do-not-track ({base_signal.upper()}): no identifier is kept"
                )
        rules.append(
            Rule(
                "identifier",
                "subject",
                "kept" if may_track else "dropped",
                track_signal,
                track_reason,
            )
        )
        rules.append(
            Rule(
                "identifier",
                "visitor_hash",
                "kept" if may_track else "dropped",
                track_signal,
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
                        track_signal,
                        f"a {spec.identifier.value} identifier; "
                        f"do-not-track ({track_signal.upper()}) keeps none",
                    )
                )
            elif (
                spec.is_identifier
                and limited
                and not base.may_track
                and grant is not None
                and not any(grant.covers_purpose(p) for p in useful)
            ):
                rules.append(
                    Rule(
                        "field",
                        name,
                        "dropped",
                        base_signal,
                        f"a {spec.identifier.value} identifier, and the exception granted "
                        "covers none of its purposes",
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
