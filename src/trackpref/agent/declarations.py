"""Whether a third party declared that it honours the person's preference.

A tracker that declares compliance is left alone (its requests carry
``DNT: 1`` / ``Sec-GPC: 1`` and it promised to honour them); one that declares
nothing is blocked or loses its cookies. Three declarations count, each read by
the signals core:

* a valid site-wide Tracking Status Resource (``/.well-known/dnt/``) whose
  ``tracking`` is ``N`` (``check_tsr_response``);
* ``/.well-known/gpc.json`` with ``"gpc": true`` (``parse_gpc_json``);
* the EFF Do Not Track policy at ``/.well-known/dnt-policy.txt``, over HTTPS
  only, as Privacy Badger checks it (``check_dnt_policy``).

Declarations are fetched out of band (``declaration_fetch``) and kept here,
per origin; the request path only ever reads this cache, and an origin not
yet checked counts as "declared nothing" until its check completes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..signals.dnt_policy import check_dnt_policy
from ..signals.gpc_support import parse_gpc_json
from ..signals.tsr import check_tsr_response

__all__ = [
    "DECLARED_TTL",
    "UNDECLARED_TTL",
    "Declaration",
    "DeclarationCache",
    "judge_dnt_policy",
    "judge_gpc_json",
    "judge_tsr",
]

#: A declaration is re-read after a day; a failed or empty check after an hour.
DECLARED_TTL: Final = 24 * 3600.0
UNDECLARED_TTL: Final = 3600.0

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Declaration:
    """The result of checking one origin's well-known resources.

    ``how`` names what was declared (``"TSR tracking N"``, ``"gpc.json"``,
    ``"EFF DNT policy v1.0"``) or is None; ``problems`` says why each resource
    did not count, for ``--verbose`` logs.
    """

    origin: str
    compliant: bool
    how: str | None
    checked: float
    problems: tuple[str, ...] = ()

    def fresh(self, now: float) -> bool:
        ttl = DECLARED_TTL if self.compliant else UNDECLARED_TTL
        return now - self.checked < ttl


def judge_tsr(status: int, headers: Headers, body: bytes) -> tuple[bool, str]:
    """A valid site-wide TSR saying ``N`` (not tracking) counts."""
    check = check_tsr_response(status, headers, body)
    if check.tsr is not None and check.valid and check.tsr.tracking == "N":
        return True, "TSR tracking N"
    if check.tsr is not None and check.tsr.tracking != "N":
        return False, f"TSR says tracking {check.tsr.tracking!r}, not 'N'"
    return False, "TSR: " + ("; ".join(check.problems[:3]) or "not valid")


def judge_gpc_json(status: int, headers: Headers, body: bytes) -> tuple[bool, str]:
    """``gpc.json`` with the JSON boolean ``true`` counts."""
    if not 200 <= status < 300:
        return False, f"gpc.json: status {status}"
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    support = parse_gpc_json(body, content_type)
    if support.gpc is True:
        return True, "gpc.json"
    return False, "gpc.json: " + ("; ".join(support.problems[:3]) or "gpc is false")


def judge_dnt_policy(status: int, body: bytes) -> tuple[bool, str]:
    """One of the EFF policy texts Privacy Badger accepts counts."""
    if not 200 <= status < 300:
        return False, f"dnt-policy.txt: status {status}"
    check = check_dnt_policy(body)
    if check.compliant:
        return True, f"EFF DNT policy ({check.version})"
    return False, f"dnt-policy.txt: SHA-1 {check.sha1} is not an accepted EFF policy"


class DeclarationCache:
    """Thread-safe map origin -> :class:`Declaration`, read on every request.

    :meth:`declared` is the request path's question; it never blocks on I/O.
    """

    __slots__ = ("_entries", "_lock", "_max")

    def __init__(self, max_entries: int = 65536) -> None:
        self._entries: dict[str, Declaration] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, origin: str) -> Declaration | None:
        return self._entries.get(origin)

    def declared(self, origin: str, now: float) -> bool | None:
        """True/False from a fresh check; None when unknown or stale (check it)."""
        entry = self._entries.get(origin)
        if entry is None or not entry.fresh(now):
            return None
        return entry.compliant

    def compliant(self, origin: str) -> bool:
        """The last known answer, stale or not; unknown is False."""
        entry = self._entries.get(origin)
        return entry is not None and entry.compliant

    def put(self, declaration: Declaration) -> None:
        with self._lock:
            if len(self._entries) >= self._max and declaration.origin not in self._entries:
                # Drop the oldest checks first; they are due for a re-check anyway.
                for key in sorted(self._entries, key=lambda k: self._entries[k].checked)[
                    : self._max // 8 or 1
                ]:
                    del self._entries[key]
            self._entries[declaration.origin] = declaration
