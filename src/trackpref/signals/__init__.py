"""The signals core: pure functions over frozen dataclasses, no I/O.

Every adapter (ASGI, WSGI, the proxy, the auditor, the ledger) calls this
package; none re-implements a rule.
"""

from __future__ import annotations

from .decisions import PERMITTED_USES, Decision, PartyRole, Purpose, Verdict, decide
from .dnt import DNT, format_dnt, navigator_do_not_track, parse_dnt
from .errors import InvalidStateError, SecurityError, SignalError, SyntaxError_, ValidationError
from .gpc import GPC, format_gpc, parse_gpc
from .preference import (
    DEFAULT_PRECEDENCE,
    STRICT_PRECEDENCE,
    Claim,
    Conflict,
    Precedence,
    Preference,
    PreferenceState,
    Source,
    resolve,
    resolve_headers,
)
from .tracking_status import TSV, Tk, effective_status, format_tk, is_status_id, is_tsv, parse_tk

__all__ = [
    "DEFAULT_PRECEDENCE",
    "DNT",
    "GPC",
    "PERMITTED_USES",
    "STRICT_PRECEDENCE",
    "TSV",
    "Claim",
    "Conflict",
    "Decision",
    "InvalidStateError",
    "PartyRole",
    "Precedence",
    "Preference",
    "PreferenceState",
    "Purpose",
    "SecurityError",
    "SignalError",
    "Source",
    "SyntaxError_",
    "Tk",
    "ValidationError",
    "Verdict",
    "decide",
    "effective_status",
    "format_dnt",
    "format_gpc",
    "format_tk",
    "is_status_id",
    "is_tsv",
    "navigator_do_not_track",
    "parse_dnt",
    "parse_gpc",
    "parse_tk",
    "resolve",
    "resolve_headers",
]
