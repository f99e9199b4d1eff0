"""Per-state analysis: one visit's observation turned into the facts verdicts use.

Identifiers are the exception to "one state at a time": telling a browser's
identifier from a site constant needs every state of the site at once, so
:func:`analyse_states` takes them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .consent import ConsentStrings, parse_consent
from .failures import Failure
from .identifiers import IdentifierReport, analyse_identifiers
from .observation import Observation
from .referrers import ReferrerLeak, find_referrer_leaks
from .site_parties import SiteParties
from .states import SignalState, spec_for
from .traffic import SignalCheck, TrafficSummary, check_signal, summarise_traffic

__all__ = ["StateResult", "analyse_states"]


@dataclass(frozen=True, slots=True)
class StateResult:
    state: SignalState
    observation: Observation
    traffic: TrafficSummary
    signal: SignalCheck
    identifiers: IdentifierReport
    referrer_leaks: tuple[ReferrerLeak, ...]
    consent: ConsentStrings
    #: 0 for the visit verdicts use; 1, 2, ... for repeat visits (noise).
    repeat: int = 0

    @property
    def ok(self) -> bool:
        return self.observation.ok

    @property
    def failure(self) -> Failure | None:
        return self.observation.failure

    @property
    def third_party_identifiers(self) -> int:
        """Distinct (identifier, third party) pairs: the headline number."""
        return len(self.identifiers.flows)


def analyse_states(
    observations: Mapping[SignalState, Sequence[Observation]], parties: SiteParties
) -> dict[SignalState, list[StateResult]]:
    """Analyse every visit; index 0 of each list is the primary visit.

    Repeat visits take part in the constant filter like any other fresh
    context, which only sharpens it.
    """
    flat: dict[tuple[SignalState, int], Observation] = {
        (state, i): obs for state, visits in observations.items() for i, obs in enumerate(visits)
    }
    reports = analyse_identifiers(flat, parties)
    out: dict[SignalState, list[StateResult]] = {}
    for (state, repeat), obs in flat.items():
        result = StateResult(
            state=state,
            observation=obs,
            traffic=summarise_traffic(obs, parties),
            signal=check_signal(obs, spec_for(state)),
            identifiers=reports[(state, repeat)],
            referrer_leaks=find_referrer_leaks(obs, parties),
            consent=parse_consent(obs.consent),
            repeat=repeat,
        )
        out.setdefault(state, []).append(result)
    return out
