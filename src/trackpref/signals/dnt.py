"""The ``DNT`` request header (TPE §4) and ``navigator.doNotTrack`` (TPE §4.3).

Grammar::

    DNT-field-value = ( "0" / "1" ) *DNT-extension
    DNT-extension   = %x21 / %x23-2B / %x2D-5B / %x5D-7E

A request carries at most one ``DNT`` field. Anything else (a value outside the
grammar, an empty value, fields that disagree) is "no valid preference": the
person may have meant something, but a server cannot know what, so it must not
guess in either direction. The reason is kept in :attr:`DNT.problem` so that a
dashboard can count broken agents instead of silently treating them as unset.

TPE allows at most one field, so repeated fields (``DNT: 1`` twice, or ``1, 1``
after an intermediary joined them) are no valid preference either, even when
they agree: the request is not a conforming one, and a server that picked one
of them would be guessing which agent spoke for the person. The problem is
recorded, so the dashboard shows how often it happens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .errors import SignalError
from .field_values import field_values

__all__ = [
    "DNT",
    "MAX_FIELD_LENGTH",
    "format_dnt",
    "is_extension_char",
    "navigator_do_not_track",
    "parse_dnt",
]

Choice = Literal["0", "1"]

#: A DNT value longer than this is refused. TPE defines no extensions, so a long
#: value is noise or an attack on a logger; 64 is far beyond anything legitimate.
MAX_FIELD_LENGTH = 64

_OWS = " \t"


def is_extension_char(ch: str) -> bool:
    """True for the characters TPE allows after the first one."""
    o = ord(ch)
    return o == 0x21 or 0x23 <= o <= 0x2B or 0x2D <= o <= 0x5B or 0x5D <= o <= 0x7E


@dataclass(frozen=True, slots=True)
class DNT:
    """What one request said with ``DNT``.

    ``choice`` is ``"1"`` (do not track), ``"0"`` (allow tracking) or ``None``
    (no valid preference: absent, repeated or malformed). ``problem`` says why a
    field that was present did not count, or, next to a choice, which part of a
    valid field was ignored; it is ``None`` when the header was absent or valid
    as a whole.
    """

    choice: Choice | None = None
    extensions: str = ""
    problem: str | None = None

    def __post_init__(self) -> None:
        # Literal types are not checked at run time: without this, DNT(choice="2")
        # would build a value that no parser can produce and that no rule expects.
        if self.choice not in (None, "0", "1"):
            raise SignalError(f"DNT choice {self.choice!r} is not '0', '1' or None", field="DNT")
        if not isinstance(self.extensions, str):
            raise SignalError("DNT extensions must be a string", field="DNT")
        if self.problem is not None and not isinstance(self.problem, str):
            raise SignalError("DNT problem must be a string or None", field="DNT")
        if self.choice is None and self.extensions:
            raise SignalError("DNT extensions need a choice of '0' or '1'", field="DNT")
        bad = next((c for c in self.extensions if not is_extension_char(c)), None)
        if bad is not None:
            raise SignalError(f"DNT extension character {bad!r} is not allowed", field="DNT")
        if self.choice is not None and len(self.extensions) + 1 > MAX_FIELD_LENGTH:
            raise SignalError(f"DNT value longer than {MAX_FIELD_LENGTH} characters", field="DNT")

    @property
    def present(self) -> bool:
        """A field was sent, valid or not."""
        return self.choice is not None or self.problem is not None

    @property
    def do_not_track(self) -> bool:
        return self.choice == "1"

    @property
    def allow(self) -> bool:
        return self.choice == "0"

    @property
    def value(self) -> str | None:
        """The field value as a conforming agent would send it."""
        return None if self.choice is None else self.choice + self.extensions


ABSENT = DNT()


def parse_dnt(values: str | bytes | Iterable[str | bytes] | None) -> DNT:
    """Parse the ``DNT`` field(s) of one request.

    Accepts ``None`` (absent), one field value, or every value of the field in
    the order received. A comma inside a value is read as fields joined by an
    intermediary (RFC 9110 §5.3): ``DNT-extension`` excludes the comma, so it
    cannot be part of one value. Never raises: a bad value gives
    ``DNT(problem=...)``.
    """
    if values is None:
        return ABSENT
    raws = [values] if isinstance(values, str) else field_values(values)
    if isinstance(raws, str):
        return DNT(problem=f"DNT: {raws}")
    if not raws:
        return ABSENT
    if len(raws) == 1 and "," not in raws[0]:
        return _parse_field(raws[0])
    if len(raws) == 1:
        what = "DNT value holds a comma (repeated fields joined)"
    else:
        what = f"{len(raws)} DNT fields; TPE allows one"
    return DNT(problem=what)


def _parse_field(raw: str) -> DNT:
    """One field value, without commas."""
    value = raw.strip(_OWS)
    if not value:
        return DNT(problem="empty DNT value")
    first, rest = value[0], value[1:]
    if first not in "01":
        return DNT(problem=f"DNT value starts with {first!r}, not '0' or '1'")
    bad = next((c for c in rest if not is_extension_char(c)), None)
    if bad is not None:
        return DNT(problem=f"DNT extension character {bad!r} is not allowed")
    choice: Choice = "1" if first == "1" else "0"
    if len(value) > MAX_FIELD_LENGTH:
        # The value is grammatical, so it is a valid DNT:1 or DNT:0, and TPE §4
        # tells a server without extension support to ignore everything after the
        # first character. Refusing the whole field would silently turn a
        # "do not track" into "no preference"; only the extensions are dropped.
        return DNT(
            choice=choice,
            problem=f"DNT extensions longer than {MAX_FIELD_LENGTH - 1} characters ignored",
        )
    return DNT(choice=choice, extensions=rest)


def format_dnt(dnt: DNT) -> str | None:
    """The field value to send, or ``None`` when no field must be sent."""
    return dnt.value


def navigator_do_not_track(dnt: DNT) -> str | None:
    """``navigator.doNotTrack``: the exact value that would be sent, or null."""
    return dnt.value
