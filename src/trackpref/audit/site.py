"""One audited site: its visits analysed, its declarations, its verdicts.

:func:`analyse_site` is the pure join of everything the adapters gathered; the
runner calls it once the visits and fetches are done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from trackpref.signals.errors import SignalError
from trackpref.signals.parties import is_public_suffix

from .analysis import StateResult, analyse_states
from .declarations import SiteDeclarations, TSRDeclaration
from .failures import Failure, FailureKind
from .observation import Observation
from .site_parties import SiteParties, cloaked_hosts, site_key
from .states import SignalState
from .trackers import TrackerInfo, TrackerKnowledge
from .verdicts import Verdict, Verdicts, judge

__all__ = ["SiteAudit", "analyse_site", "failed_site", "same_party_of"]

_NO_RESULTS: Mapping[SignalState, StateResult] = MappingProxyType({})
_NO_CHAINS: Mapping[str, tuple[str, ...]] = MappingProxyType({})
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
    #: With ``--resolve-cnames``: every host of the site that was looked up and
    #: is a CNAME, with its whole chain, tracker or not. Kept so that the
    #: report can tell which hosts the crawl's final knowledge would cloak.
    cname_chains: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NO_CHAINS)

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


IgnoredSameParty = tuple[tuple[str, str], ...]


def same_party_of(
    tsr: TSRDeclaration | None, knowledge: TrackerKnowledge | None = None
) -> tuple[tuple[str, ...], IgnoredSameParty]:
    """The TSR's ``same-party`` domains the audit honors, and those it does not
    with the reason.

    The list is the site's own word, and every domain on it stops counting as
    a third party: honored blindly, one line (``"com"``, a TLD, an ad network)
    would turn any site into one that "honors" the signals. So only a TSR that
    follows its spec speaks, and neither a public suffix nor a known tracker
    (learned, or in an imported tracker file) can be declared away.
    """
    if tsr is None or not tsr.present or not tsr.same_party:
        return (), ()
    if tsr.valid is not True:
        why = "the TSR is not valid, so its same-party list is not honored"
        return (), tuple((domain, why) for domain in tsr.same_party)
    accepted: list[str] = []
    ignored: list[tuple[str, str]] = []
    for domain in tsr.same_party:
        try:
            suffix = is_public_suffix(domain)
        except SignalError:
            ignored.append((domain, "not a domain name"))
            continue
        if suffix:
            ignored.append((domain, "a public suffix, which no one party owns"))
            continue
        info = known_tracker(domain, knowledge) if knowledge is not None else None
        if info is not None:
            ignored.append((domain, f"a known tracker ({info.source})"))
            continue
        accepted.append(domain)
    return tuple(accepted), tuple(ignored)


def cloaked_with(
    chains: Mapping[str, tuple[str, ...]],
    site: str,
    same_party: tuple[str, ...],
    knowledge: TrackerKnowledge,
    *,
    pages: Iterable[str] = (),
) -> Mapping[str, tuple[str, ...]]:
    """:func:`~.site_parties.cloaked_hosts` with ``knowledge``'s trackers, and
    the honored ``same_party`` domains and ``knowledge``'s entities exempt: the
    one decision the audit takes, and the report takes again with what is
    known later."""
    parties = SiteParties(site, same_party, knowledge.entities)
    return cloaked_hosts(
        chains,
        site,
        lambda name: knowledge.classify(name).tracker,
        pages=pages,
        exempt=lambda name: parties.exemption(name) is not None,
    )


def known_tracker(domain: str, knowledge: TrackerKnowledge) -> TrackerInfo | None:
    """What ``knowledge`` knows of ``domain`` (as a TSR wrote it) as a tracker,
    or None: learned trackers are kept by site, so the site is asked first."""
    for info in (knowledge.classify(site_key(domain)), knowledge.classify(domain)):
        if info.tracker:
            return info
    return None


def analyse_site(
    url: str,
    visits: Mapping[SignalState, Sequence[Observation]],
    declarations: SiteDeclarations,
    *,
    audited_at: str,
    entities: Mapping[str, str] | None = None,
    knowledge: TrackerKnowledge | None = None,
    duration_ms: float = 0.0,
    cloaked: Mapping[str, tuple[str, ...]] | None = None,
    cname_chains: Mapping[str, tuple[str, ...]] | None = None,
) -> SiteAudit:
    """``knowledge`` (the trackers known so far) keeps a TSR from declaring a
    tracker same-party; its entities are used when ``entities`` is not given.
    ``cloaked``: the site's hosts that are CNAMEs to a known tracker (:mod:`.cname`);
    ``cname_chains``: every chain looked up, kept for the report."""
    tsr = declarations.site.tsr if declarations.site is not None else None
    same_party, ignored = same_party_of(tsr, knowledge)
    if entities is None and knowledge is not None:
        entities = knowledge.entities
    parties = SiteParties.for_url(
        url,
        same_party=same_party,
        entities=MappingProxyType(dict(entities or {})),
        ignored_same_party=ignored,
        cloaked=cloaked,
    )
    analysed = analyse_states(visits, parties)
    primary = {state: results[0] for state, results in analysed.items() if results}
    repeats = {state: tuple(results[1:]) for state, results in analysed.items() if len(results) > 1}
    failure, failed = _site_failure(primary)
    return SiteAudit(
        url=url,
        site=parties.site,
        audited_at=audited_at,
        verdicts=judge(primary, declarations, parties, repeats),
        declarations=declarations,
        states=MappingProxyType(primary),
        repeats=MappingProxyType(repeats),
        parties=parties,
        failure=failure,
        failed_states=failed,
        duration_ms=duration_ms,
        cname_chains=MappingProxyType({h: c for h, c in (cname_chains or {}).items() if c}),
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
