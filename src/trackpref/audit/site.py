"""One audited site: its visits analysed, its declarations, its verdicts.

:func:`analyse_site` is the pure join of everything the adapters gathered; the
runner calls it once the visits and fetches are done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .analysis import StateResult, analyse_states
from .declarations import SiteDeclarations
from .failures import Failure, FailureKind
from .observation import Observation
from .site_parties import SiteParties
from .states import SignalState
from .verdicts import Verdict, Verdicts, judge

__all__ = ["SiteAudit", "analyse_site", "failed_site"]

_NO_RESULTS: Mapping[SignalState, StateResult] = MappingProxyType({})
_NO_REPEATS: Mapping[SignalState, tuple[StateResult, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SiteAudit:
    url: str
    site: str
    audited_at: str
    verdicts: Verdicts
    declarations: SiteDeclarations = field(default_factory=SiteDeclarations)
    states: Mapping[SignalState, StateResult] = field(default_factory=lambda: _NO_RESULTS)
    #: Extra visits per state (``--repeat``), to show the noise.
    repeats: Mapping[SignalState, tuple[StateResult, ...]] = field(
        default_factory=lambda: _NO_REPEATS
    )
    parties: SiteParties | None = None
    failure: Failure | None = None
    #: The states whose visits failed.
    failed_states: tuple[SignalState, ...] = ()
    duration_ms: float = 0.0

    @property
    def final_url(self) -> str | None:
        first = self.states.get(SignalState.NO_SIGNAL)
        return first.observation.final_url if first is not None else None


def _site_failure(
    states: Mapping[SignalState, StateResult],
) -> tuple[Failure | None, tuple[SignalState, ...]]:
    failed = tuple(s for s, r in states.items() if r.failure is not None)
    if not failed:
        return None, ()
    first = states[failed[0]].failure
    assert first is not None
    if len(failed) == len(states):
        return first, failed
    names = ", ".join(s.value for s in failed)
    return Failure(first.kind, f"visit(s) {names} failed: {first.message}"), failed


def analyse_site(
    url: str,
    visits: Mapping[SignalState, Sequence[Observation]],
    declarations: SiteDeclarations,
    *,
    audited_at: str,
    entities: Mapping[str, str] | None = None,
    duration_ms: float = 0.0,
) -> SiteAudit:
    same_party: tuple[str, ...] = ()
    if declarations.site is not None and declarations.site.tsr.present:
        same_party = declarations.site.tsr.same_party
    parties = SiteParties.for_url(
        url, same_party=same_party, entities=MappingProxyType(dict(entities or {}))
    )
    analysed = analyse_states(visits, parties)
    primary = {state: results[0] for state, results in analysed.items() if results}
    repeats = {state: tuple(results[1:]) for state, results in analysed.items() if len(results) > 1}
    failure, failed = _site_failure(primary)
    return SiteAudit(
        url=url,
        site=parties.site,
        audited_at=audited_at,
        verdicts=judge(primary, declarations, parties),
        declarations=declarations,
        states=MappingProxyType(primary),
        repeats=MappingProxyType(repeats),
        parties=parties,
        failure=failure,
        failed_states=failed,
        duration_ms=duration_ms,
    )


def failed_site(
    url: str, failure: Failure, *, audited_at: str, site: str | None = None
) -> SiteAudit:
    """A site that could not be audited at all (bad URL, deadline, crash)."""
    reason = f"not audited: {failure.message}"
    unknown = [
        Verdict(name, None, reason)
        for name in ("gpc_honored", "dnt_honored", "declarations_valid", "claims_contradicted")
    ]
    return SiteAudit(
        url=url,
        site=site or url,
        audited_at=audited_at,
        verdicts=Verdicts(*unknown),
        failure=failure,
    )


def invalid_url(url: str, why: str, *, audited_at: str) -> SiteAudit:
    return failed_site(url, Failure(FailureKind.INVALID_URL, why), audited_at=audited_at)
