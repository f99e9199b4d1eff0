"""The ``Sec-GPC`` request header (GPC §3.2) and ``navigator.globalPrivacyControl``.

Only the exact value ``1`` counts. Several fields count as ``1`` if any of them is
exactly ``1``; everything else is treated as absent. Unlike DNT, GPC has no
"allow" value: absence is the only other state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .field_values import field_values

__all__ = ["GPC", "format_gpc", "parse_gpc"]

_OWS = " \t"
#: How many rejected values, and how many characters of each, the problem text
#: shows: a real agent sends one byte, and a log line must stay short.
_MAX_SHOWN = 4
_MAX_SHOWN_CHARS = 16


@dataclass(frozen=True, slots=True)
class GPC:
    """What one request said with ``Sec-GPC``.

    ``problem`` records a field that was present but did not count (``0``,
    ``true``, ...), so that broken agents can be counted; it never changes
    ``enabled``.
    """

    enabled: bool = False
    problem: str | None = None

    @property
    def present(self) -> bool:
        return self.enabled or self.problem is not None


def parse_gpc(values: str | bytes | Iterable[str | bytes] | None) -> GPC:
    """Parse the ``Sec-GPC`` field(s) of one request; never raises.

    A comma-separated value is read as repeated fields joined by an
    intermediary (RFC 9110 §5.3), which is how WSGI servers hand them over.
    """
    if values is None:
        return GPC()
    fields = [values] if isinstance(values, str) else field_values(values)
    if isinstance(fields, str):
        return GPC(problem=f"Sec-GPC: {fields}; treated as absent")
    if not fields:
        return GPC()
    seen: list[str] = []
    for raw in fields:
        # Every part is scanned, however long the combined value: GPC §3.2 says
        # any field that is exactly "1" counts, and an intermediary may append
        # one to a request that already carried junk. Skipping long values would
        # drop that opt-out; only the problem text is kept short.
        for part in raw.split(","):
            item = part.strip(_OWS)
            if item == "1":
                return GPC(enabled=True)
            if len(seen) < _MAX_SHOWN:
                cut = len(item) > _MAX_SHOWN_CHARS
                seen.append(item[:_MAX_SHOWN_CHARS] + "..." if cut else item)
    shown = ", ".join(repr(s) for s in seen)
    return GPC(problem=f"Sec-GPC value {shown} is not exactly '1'; treated as absent")


def format_gpc(gpc: GPC) -> str | None:
    """The field value to send, or ``None`` when no field must be sent."""
    return "1" if gpc.enabled else None
