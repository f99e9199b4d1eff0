"""Tracking Status Values (TPE §6.2) and the ``Tk`` response header (TPE §6.3).

A TSV is one case-sensitive character. The nine defined ones have meanings and
placement rules; the extension range is reserved for regimes listed in a TSR's
``compliance`` member, and a recipient that does not know an extension must
treat it as ``P`` (:func:`effective_status`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import SignalError

__all__ = [
    "TSV",
    "Tk",
    "effective_status",
    "format_tk",
    "is_status_id",
    "is_tsv",
    "is_tsv_extension",
    "parse_tk",
]


class TSV(enum.StrEnum):
    """The tracking status values TPE defines."""

    UNDER_CONSTRUCTION = "!"
    DYNAMIC = "?"
    GATEWAY = "G"
    NOT_TRACKING = "N"
    TRACKING = "T"
    CONSENT = "C"
    POTENTIAL_CONSENT = "P"
    DISREGARDING = "D"
    UPDATED = "U"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    TSV.UNDER_CONSTRUCTION: "under construction: says nothing about honoring the preference",
    TSV.DYNAMIC: "dynamic: the status depends on the request; see the Tk header",
    TSV.GATEWAY: "gateway to a multi-party exchange",
    TSV.NOT_TRACKING: "not tracking",
    TSV.TRACKING: "tracking",
    TSV.CONSENT: "tracking with prior consent that overrides the preference",
    TSV.POTENTIAL_CONSENT: "consent not known in real time; data held back until it is",
    TSV.DISREGARDING: "disregarding the preference",
    TSV.UPDATED: "the tracking status may have changed",
}

_DEFINED = frozenset(v.value for v in TSV)


def is_tsv_extension(value: str) -> bool:
    """True for a single character in the TSV-extension range."""
    if len(value) != 1:
        return False
    o = ord(value)
    return (
        0x23 <= o <= 0x25
        or 0x2A <= o <= 0x3B
        or 0x40 <= o <= 0x42
        or 0x45 <= o <= 0x46
        or 0x48 <= o <= 0x4D
        or o == 0x4F
        or 0x51 <= o <= 0x53
        or 0x56 <= o <= 0x5A
        or o == 0x5F
        or 0x61 <= o <= 0x7A
    )


def is_tsv(value: str) -> bool:
    """True for a defined TSV or an extension (TPE §6.2 grammar)."""
    return value in _DEFINED or is_tsv_extension(value)


def effective_status(value: str) -> str:
    """How a recipient must read a status: an unknown extension counts as ``P``."""
    if value in _DEFINED:
        return value
    if is_tsv_extension(value):
        return TSV.POTENTIAL_CONSENT.value
    raise SignalError(f"{value!r} is not a tracking status value", field="tracking")


def is_status_id(value: str) -> bool:
    """``status-id = 1*id-char``, ``id-char = ALPHA / DIGIT / "_" / "-" / "+" / "=" / "/"``."""
    return bool(value) and all(
        ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "_-+=/" for c in value
    )


#: Tk values longer than this are refused; TPE sets no limit, a parser must.
MAX_TK_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Tk:
    """One ``Tk`` header: a status and, optionally, a status-id.

    Construction enforces the placement rules a sender must follow: ``G`` never
    appears in ``Tk``, and ``?`` needs a status-id (TPE §6.3).
    """

    status: str
    status_id: str | None = None

    def __post_init__(self) -> None:
        # Type checks first, so that a wrong type is a SignalError naming the
        # field rather than a TypeError from deep inside the grammar checks.
        if not isinstance(self.status, str):
            raise SignalError(f"Tk status {self.status!r} is not a string", field="Tk")
        if self.status_id is not None and not isinstance(self.status_id, str):
            raise SignalError(f"Tk status-id {self.status_id!r} is not a string", field="Tk")
        if not is_tsv(self.status):
            raise SignalError(f"Tk status {self.status!r} is not a TSV", field="Tk")
        if self.status == TSV.GATEWAY:
            raise SignalError("Tk must not carry 'G'; G is for the site-wide TSR only", field="Tk")
        if self.status_id is not None and not is_status_id(self.status_id):
            raise SignalError(
                f"Tk status-id {self.status_id!r} has a character outside "
                "ALPHA / DIGIT / _ - + = /",
                field="Tk",
            )
        if self.status == TSV.DYNAMIC and self.status_id is None:
            raise SignalError("Tk: '?' needs a status-id", field="Tk")
        if self.status_id is not None and len(self.status_id) + 2 > MAX_TK_LENGTH:
            raise SignalError(f"Tk value longer than {MAX_TK_LENGTH} characters", field="Tk")

    @property
    def resource_path(self) -> str:
        """Where the TSR describing this response lives, on the request's origin."""
        if self.status_id is None:
            return "/.well-known/dnt/"
        return "/.well-known/dnt/" + self.status_id

    def __str__(self) -> str:
        return format_tk(self)


def format_tk(tk: Tk) -> str:
    return tk.status if tk.status_id is None else f"{tk.status};{tk.status_id}"


def parse_tk(values: str | list[str] | tuple[str, ...]) -> Tk:
    """Parse a ``Tk`` header received from a server.

    Raises :class:`SignalError` naming the fault: a second field, a comma, a
    value outside the grammar, ``G``, or ``?`` without a status-id.
    """
    fields = [values] if isinstance(values, str) else list(values)
    if not fields:
        raise SignalError("no Tk field", field="Tk")
    if len(fields) > 1:
        raise SignalError(f"{len(fields)} Tk fields; a response carries at most one", field="Tk")
    value = fields[0].strip(" \t")
    if len(value) > MAX_TK_LENGTH:
        raise SignalError(f"Tk value longer than {MAX_TK_LENGTH} characters", field="Tk")
    if not value:
        raise SignalError("empty Tk value", field="Tk")
    if "," in value[1:]:
        # ',' is a TSV-extension character, so only a comma after the first
        # character can be a list separator.
        raise SignalError("Tk value holds a comma (repeated fields joined)", field="Tk")
    status, sep, status_id = value[0], value[1:2], value[2:]
    if sep and sep != ";":
        raise SignalError(f"Tk value {value!r}: expected ';' after the status", field="Tk")
    if sep and not status_id:
        raise SignalError("Tk value ends with ';' but has no status-id", field="Tk")
    return Tk(status, status_id if sep else None)
