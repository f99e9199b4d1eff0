"""Re-audits compared over time: what changed for a site since its last audit.

Pure: it reads two ``sites[]`` entries of ``report.json`` and says what moved,
so the comparison works on results of any age stored in the results file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["VERDICT_NAMES", "compare"]

VERDICT_NAMES = (
    "gpc_honored",
    "dnt_honored",
    "declarations_valid",
    "claims_contradicted",
    "compliant",
)
_COUNTS = ("third_party_requests", "third_party_sites", "third_party_identifiers", "cookie_syncs")

JSON = Mapping[str, Any]


def _third_parties(state: JSON) -> set[str]:
    return {p["site"] for p in state.get("third_parties", []) if isinstance(p, Mapping)}


def compare(previous: JSON | None, current: JSON) -> dict[str, Any] | None:
    """The changes from ``previous`` to ``current``; ``None`` when there is no
    previous audit. Unchanged values are left out, so an empty ``verdicts``
    means "same verdicts as last time"."""
    if previous is None:
        return None
    before_v = previous.get("verdicts", {})
    after_v = current.get("verdicts", {})
    verdicts = {
        name: {"before": before_v.get(name), "after": after_v.get(name)}
        for name in VERDICT_NAMES
        if before_v.get(name) != after_v.get(name)
    }
    states: dict[str, Any] = {}
    before_states = previous.get("states", {})
    for name, state in current.get("states", {}).items():
        old = before_states.get(name)
        if not isinstance(old, Mapping):
            continue
        delta: dict[str, Any] = {}
        for key in _COUNTS:
            a = old.get("summary", {}).get(key)
            b = state.get("summary", {}).get(key)
            if a != b:
                delta[key] = {"before": a, "after": b}
        new = sorted(_third_parties(state) - _third_parties(old))
        gone = sorted(_third_parties(old) - _third_parties(state))
        if new:
            delta["new_third_parties"] = new
        if gone:
            delta["gone_third_parties"] = gone
        if delta:
            states[name] = delta
    return {
        "previous_audited_at": previous.get("audited_at"),
        "verdicts": verdicts,
        "states": states,
    }
