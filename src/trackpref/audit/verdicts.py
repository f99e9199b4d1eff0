"""The four verdicts, as pure functions over analysed visits and declarations.

Each verdict is ``True``, ``False`` or ``None`` (unknown) and carries the
evidence it rests on, because a verdict without evidence cannot be checked, and
an auditor's claim that cannot be checked is no better than the site's.

The rules, in short (docs/audit.md has the long form):

* **gpc_honored**: with GPC on, no identifier reaches a third party, no
  third-party identifier cookie is set, and every opt-out string present (US
  Privacy, GPP, OneTrust) records the opt-out.
* **dnt_honored**: with DNT:1 on, the same for identifiers and cookies, and no
  party answers ``Tk: D`` or declares ``D`` site-wide.
* **declarations_valid**: every declaration the site makes (TSR, ``gpc.json``,
  ``dnt-policy.txt``, its own ``Tk`` headers) follows its spec. Unknown when it
  makes none.
* **claims_contradicted**: some claim (``gpc.json`` true, TSR or ``Tk`` ``N``,
  the EFF policy, a partner's own claims) is contradicted by identifiers
  flowing with the signal on, on any load. Unknown when nobody claims anything.

Unknown is also the answer whenever the visit that would decide failed, or the
browser did not put the signal on the wire: a verdict about a signal the site
never received would be false evidence.

With ``--repeat``, every usable load of the signal state counts for the two
"honored" verdicts, for the opt-out strings and for the claims: a site honors
a signal when it does so on each load, so identifiers reaching a third party
on any one of them make it false. A site that tracks on one load in three is
not honoring the signal, it is noisy about ignoring it.

Flows the site's own word takes out of the audit (a ``same-party`` domain of
its TSR, the same entity in a tracker file) are listed as context, with the
TSR entries that were not honored and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .analysis import StateResult
from .declarations import SiteDeclarations
from .site_parties import SiteParties, host_of, site_key
from .states import SignalState

__all__ = [
    "Evidence",
    "Verdict",
    "Verdicts",
    "claims_contradicted",
    "declarations_valid",
    "dnt_honored",
    "gpc_honored",
    "judge",
]

States = Mapping[SignalState, StateResult]
Repeats = Mapping[SignalState, Sequence[StateResult]]


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str
    detail: str
    state: str | None = None
    party: str | None = None
    #: Whether this item decided the verdict, or is context for the reader.
    decisive: bool = True

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "detail": self.detail}
        if self.state is not None:
            out["state"] = self.state
        if self.party is not None:
            out["party"] = self.party
        out["decisive"] = self.decisive
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    value: bool | None
    summary: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdicts:
    gpc_honored: Verdict
    dnt_honored: Verdict
    declarations_valid: Verdict
    claims_contradicted: Verdict

    def all(self) -> tuple[Verdict, ...]:
        return (
            self.gpc_honored,
            self.dnt_honored,
            self.declarations_valid,
            self.claims_contradicted,
        )

    @property
    def compliant(self) -> bool | None:
        """Honors both signals, declares validly or not at all, contradicts no claim."""
        values = [
            self.gpc_honored.value,
            self.dnt_honored.value,
            self.declarations_valid.value is not False,
            self.claims_contradicted.value is not True,
        ]
        if False in values:
            return False
        if None in values:
            return None
        return True

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {v.name: v.value for v in self.all()}
        out["compliant"] = self.compliant
        out["summary"] = {v.name: v.summary for v in self.all()}
        out["evidence"] = {v.name: [e.to_json() for e in v.evidence] for v in self.all()}
        return out


def _pick(states: States, *preferred: SignalState) -> StateResult | None:
    return next((states[s] for s in preferred if s in states), None)


def _unusable(result: StateResult | None, signal: str) -> Verdict | None:
    """A reason the decisive visit cannot decide, as an unknown verdict."""
    if result is None:
        return Verdict("", None, f"no visit with {signal} was made")
    if result.failure is not None:
        return Verdict(
            "",
            None,
            f"the visit with {signal} failed ({result.failure.kind.value})",
            (Evidence("failure", result.failure.message, result.state.value),),
        )
    if not result.signal.verified:
        check = result.signal
        return Verdict(
            "",
            None,
            f"the browser did not put {signal} on every request; nothing can be concluded",
            (
                Evidence(
                    "signal",
                    f"{check.requests} requests: {check.dnt1} with DNT:1, {check.dnt0} with DNT:0, "
                    f"{check.gpc} with Sec-GPC:1; page request correct: {check.document_ok}",
                    result.state.value,
                ),
            ),
        )
    return None


def _tracking(result: StateResult, prefix: str = "") -> list[Evidence]:
    """Identifiers reaching third parties and third-party identifier cookies
    (``prefix`` names the load when it is a repeat)."""
    state = result.state.value
    out: list[Evidence] = []
    by_party: dict[str, list[str]] = {}
    for flow in result.identifiers.flows:
        by_party.setdefault(flow.recipient, []).extend(
            v for v in flow.via if v not in by_party.get(flow.recipient, [])
        )
    counts: dict[str, int] = {}
    for flow in result.identifiers.flows:
        counts[flow.recipient] = counts.get(flow.recipient, 0) + 1
    for party, via in sorted(by_party.items()):
        shown = ", ".join(sorted(set(via))[:6])
        out.append(
            Evidence(
                "identifier-flow",
                f"{prefix}{counts[party]} identifier(s) reached {party} ({shown})",
                state,
                party,
            )
        )
    for cookie in result.identifiers.third_party_cookies:
        out.append(
            Evidence(
                "tracking-cookie",
                f"{prefix}third-party identifier cookie {cookie.name!r} set for {cookie.site}",
                state,
                cookie.site,
            )
        )
    for sync in result.identifiers.syncs:
        out.append(
            Evidence(
                "cookie-sync",
                f"{prefix}identifier of {sync.source} passed to {sync.target} ({sync.via})",
                state,
                sync.target,
            )
        )
    return out


def _repeat_tracking(
    signal: StateResult, repeats: Repeats | None, name: str, *, consent: bool = False
) -> tuple[list[Evidence], int, int]:
    """The tracking seen on the repeat loads of the deciding state: evidence,
    loads that tracked, usable loads in all (the deciding one included).

    A repeat that failed or lacked the signal cannot show anything, and says so.
    With ``consent`` (GPC), an opt-out string that does not record the opt-out
    on any load is a violation too: a CMP that reads the signal late, on one
    load in three, leaves that load's sale unrefused.
    """
    evidence: list[Evidence] = []
    tracked = usable = 0
    loads = list((repeats or {}).get(signal.state, ()))
    for result in loads:
        label = f"repeat load {result.repeat + 1}"
        unusable = _unusable(result, name)
        if unusable is not None:
            evidence.append(
                Evidence(
                    "note",
                    f"{label} not counted: {unusable.summary}",
                    result.state.value,
                    decisive=False,
                )
            )
            continue
        usable += 1
        found = _tracking(result, f"{label}: ")
        tracked += bool(found)
        evidence.extend(found)
        if consent:
            evidence.extend(
                Evidence("consent-string", f"{label}: {problem}", result.state.value)
                for problem in result.consent.opt_out_problems()
            )
    return evidence, tracked, usable + 1


def _exemptions(result: StateResult, parties: SiteParties | None) -> list[Evidence]:
    """Context: what was not counted as third-party in the deciding visit, what
    it could not read, and the TSR's same-party entries that were not honored."""
    state = result.state.value
    out = [
        Evidence(
            e.kind,
            f"{e.requests} request(s) to {', '.join(e.hosts[:6])} not counted as "
            f"third-party: {e.why}",
            state,
            e.site,
            decisive=False,
        )
        for e in result.traffic.exempted
    ]
    if result.observation.unread:
        out.append(
            Evidence(
                "note",
                "could not read " + " or ".join(result.observation.unread) + " after the load "
                "(the page did not answer); identifiers kept only there and opt-out strings "
                "there are not seen",
                state,
                decisive=False,
            )
        )
    if parties is not None:
        for host, chain in sorted(parties.cloaked.items()):
            party = parties.recipient(host)
            out.append(
                Evidence(
                    "cname",
                    f"{host} is a CNAME to {' -> '.join(chain)}, a known tracker: "
                    f"counted as the third party {party}",
                    state,
                    party,
                    decisive=False,
                )
            )
    for domain, why in parties.ignored_same_party if parties is not None else ():
        out.append(
            Evidence(
                "same-party",
                f"the TSR's same-party entry {domain!r} was not honored: {why}",
                party=domain,
                decisive=False,
            )
        )
    return out


def _comparison(states: States, signal: StateResult) -> tuple[Evidence | None, str]:
    base = states.get(SignalState.NO_SIGNAL)
    if base is None or not base.ok:
        return None, ""
    before, after = base.third_party_identifiers, signal.third_party_identifiers
    cookies_before = len(base.identifiers.third_party_cookies)
    cookies_after = len(signal.identifiers.third_party_cookies)
    detail = (
        f"third-party identifiers {before} without a signal, {after} with {signal.state.value}; "
        f"third-party identifier cookies {cookies_before} -> {cookies_after}; "
        f"third-party requests {base.traffic.third_party_requests} -> "
        f"{signal.traffic.third_party_requests}"
    )
    if after == 0 and cookies_after == 0:
        effect = "honored"
    elif after + cookies_after < before + cookies_before:
        effect = "partly honored"
    else:
        effect = "ignored"
    return Evidence("comparison", detail, signal.state.value, decisive=False), effect


def gpc_honored(
    states: States, repeats: Repeats | None = None, parties: SiteParties | None = None
) -> Verdict:
    name = "gpc_honored"
    signal = _pick(states, SignalState.GPC, SignalState.DNT1_GPC)
    unusable = _unusable(signal, "Sec-GPC: 1")
    if unusable is not None or signal is None:
        assert unusable is not None
        return Verdict(name, None, unusable.summary, unusable.evidence)
    evidence = _tracking(signal)
    for problem in signal.consent.opt_out_problems():
        evidence.append(Evidence("consent-string", problem, signal.state.value))
    for problem in signal.consent.problems:
        evidence.append(Evidence("consent-string", problem, signal.state.value, decisive=False))
    again, tracked, loads = _repeat_tracking(signal, repeats, "Sec-GPC: 1", consent=True)
    evidence.extend(again)
    # A repeat load whose opt-out string said no: the strings did not record
    # the opt-out on every load, so the reassuring note is not added.
    repeat_said_no = any(e.kind == "consent-string" for e in again)
    violated = bool(evidence) and any(e.decisive for e in evidence)
    evidence.extend(_exemptions(signal, parties))
    comparison, effect = _comparison(states, signal)
    if comparison is not None:
        evidence.append(comparison)
    if signal.consent.present and not signal.consent.opt_out_problems() and not repeat_said_no:
        evidence.append(
            Evidence(
                "consent-string",
                "the opt-out strings record the opt-out",
                signal.state.value,
                decisive=False,
            )
        )
    for leak in signal.referrer_leaks:
        evidence.append(
            Evidence(
                "referrer-leak",
                f"page URL {leak.leaked_url} reached {leak.recipient} via {leak.via}",
                signal.state.value,
                leak.recipient,
                decisive=False,
            )
        )
    if violated:
        summary = (
            "GPC partly honored: fewer identifiers reach third parties, but some still do"
            if effect == "partly honored"
            else "GPC ignored: identifiers still reach third parties or opt-out strings say no"
        )
        if not signal.identifiers.flows and not signal.identifiers.third_party_cookies:
            summary = "GPC not recorded: the opt-out strings do not reflect it"
            if tracked:
                summary = (
                    f"GPC not honored on every load: identifiers reached third parties "
                    f"on {tracked} of {loads} loads"
                )
        return Verdict(name, False, summary, tuple(evidence))
    base = states.get(SignalState.NO_SIGNAL)
    if (
        base is not None
        and base.ok
        and base.third_party_identifiers == 0
        and not base.consent.present
    ):
        evidence.append(
            Evidence(
                "note",
                "no identifiers reached third parties even without a signal",
                SignalState.NO_SIGNAL.value,
                decisive=False,
            )
        )
    return Verdict(
        name, True, "GPC honored: no identifiers reach third parties with GPC on", tuple(evidence)
    )


def dnt_honored(
    states: States,
    declarations: SiteDeclarations | None = None,
    repeats: Repeats | None = None,
    parties: SiteParties | None = None,
) -> Verdict:
    name = "dnt_honored"
    signal = _pick(states, SignalState.DNT1, SignalState.DNT1_GPC)
    unusable = _unusable(signal, "DNT: 1")
    if unusable is not None or signal is None:
        assert unusable is not None
        return Verdict(name, None, unusable.summary, unusable.evidence)
    evidence = _tracking(signal)
    for tk in signal.traffic.tk:
        if tk.status == "D":
            evidence.append(
                Evidence(
                    "tk",
                    f"{tk.origin} answered Tk: {tk.value} (disregarding DNT)",
                    signal.state.value,
                    tk.origin,
                )
            )
    site = declarations.site if declarations is not None else None
    if site is not None and site.tsr.present and site.tsr.effective_with_dnt == "D":
        evidence.append(Evidence("declaration", f"{site.tsr.url} declares tracking status D"))
    again, tracked, loads = _repeat_tracking(signal, repeats, "DNT: 1")
    evidence.extend(again)
    violated = any(e.decisive for e in evidence)
    evidence.extend(_exemptions(signal, parties))
    comparison, effect = _comparison(states, signal)
    if comparison is not None:
        evidence.append(comparison)
    if violated:
        summary = (
            "DNT partly honored: fewer identifiers reach third parties, but some still do"
            if effect == "partly honored"
            else "DNT ignored: identifiers still reach third parties with DNT:1"
        )
        if not signal.identifiers.flows and not signal.identifiers.third_party_cookies:
            summary = "DNT disregarded: the site says it does not honor DNT"
            if tracked:
                summary = (
                    f"DNT not honored on every load: identifiers reached third parties "
                    f"on {tracked} of {loads} loads"
                )
        return Verdict(name, False, summary, tuple(evidence))
    return Verdict(
        name, True, "DNT honored: no identifiers reach third parties with DNT:1", tuple(evidence)
    )


def declarations_valid(
    declarations: SiteDeclarations, states: States, parties: SiteParties | None = None
) -> Verdict:
    name = "declarations_valid"
    site = declarations.site
    evidence: list[Evidence] = []
    first_party_tk = False
    for result in states.values():
        if parties is None:
            continue
        for tk in result.traffic.tk:
            host = host_of(tk.origin)
            mine = host is not None and not parties.is_third_party(host)
            first_party_tk |= mine
            if tk.problem is not None:
                evidence.append(
                    Evidence(
                        "tk",
                        f"{tk.origin} sent Tk: {tk.value!r}: {tk.problem}",
                        result.state.value,
                        tk.origin,
                        decisive=mine,
                    )
                )
    if site is not None:
        for problem in site.problems():
            evidence.append(Evidence("declaration", problem))
        if site.tsr.present and site.tsr.tracking == "?":
            # The TSR speaks for its own origin; another host of the site (an
            # image CDN, www vs the apex) has its own /.well-known/dnt/, or none.
            for result in states.values():
                missing = result.traffic.responses_without_tk(site.origin)
                if result.ok and missing > 0:
                    evidence.append(
                        Evidence(
                            "declaration",
                            f"site-wide TSR is '?', but {missing} response(s) from "
                            f"{site.origin} had no Tk",
                            result.state.value,
                        )
                    )
        for failure in site.failures():
            evidence.append(
                Evidence("fetch", f"{failure.kind.value}: {failure.message}", decisive=False)
            )
    for partner in declarations.partners:
        for problem in partner.problems():
            evidence.append(
                Evidence("partner-declaration", problem, party=partner.origin, decisive=False)
            )
    present = (site is not None and site.any_present) or first_party_tk
    decisive = [e for e in evidence if e.decisive]
    if not present:
        if site is not None and site.unreadable:
            return Verdict(
                name, None, "the well-known resources could not be fetched", tuple(evidence)
            )
        return Verdict(
            name, None, "no declarations: no TSR, gpc.json, dnt-policy.txt or Tk", tuple(evidence)
        )
    if decisive:
        return Verdict(
            name, False, f"{len(decisive)} problem(s) in the site's declarations", tuple(evidence)
        )
    found = []
    if site is not None:
        found = [
            label
            for label, decl in (
                ("TSR", site.tsr),
                ("gpc.json", site.gpc),
                ("dnt-policy.txt", site.dnt_policy),
            )
            if decl.present
        ]
    if first_party_tk:
        found.append("Tk")
    evidence.append(Evidence("declaration", "valid: " + ", ".join(found), decisive=False))
    return Verdict(name, True, "the site's declarations follow their specs", tuple(evidence))


def _flows_to(result: StateResult, party: str) -> int:
    flows = sum(1 for f in result.identifiers.flows if f.recipient == party)
    return flows + sum(1 for c in result.identifiers.third_party_cookies if c.site == party)


def _site_flows(result: StateResult) -> int:
    return result.third_party_identifiers + len(result.identifiers.third_party_cookies)


@dataclass(frozen=True, slots=True)
class _Claim:
    text: str
    #: The visits the claim speaks about; ``None`` where that visit is unusable.
    results: tuple[StateResult | None, ...]
    #: Which party's flows contradict it: ``None`` for the site's whole traffic.
    party: str | None = None
    #: A ``Tk`` answer speaks for its own load only; a declaration for every
    #: load of the states it covers, repeats included.
    one_load: bool = False

    def flows(self, result: StateResult) -> int:
        return _site_flows(result) if self.party is None else _flows_to(result, self.party)


def _usable(states: States, *preferred: SignalState) -> StateResult | None:
    result = _pick(states, *preferred)
    signal = "no signal" if preferred[0] is SignalState.NO_SIGNAL else "the signal"
    return result if result is not None and _unusable(result, signal) is None else None


def _claims(
    declarations: SiteDeclarations,
    states: States,
    repeats: Repeats | None = None,
    parties: SiteParties | None = None,
) -> list[_Claim]:
    """Every claim the site and its partners make, with the visits it covers.

    ``gpc.json`` speaks about requests with GPC; a TSR about requests with or
    without ``DNT: 1`` as it was fetched (the auditor fetches both); a ``Tk``
    header about the response it came with; the EFF policy about DNT:1 users.
    """
    gpc = _usable(states, SignalState.GPC, SignalState.DNT1_GPC)
    dnt = _usable(states, SignalState.DNT1, SignalState.DNT1_GPC)
    plain = _usable(states, SignalState.NO_SIGNAL)
    out: list[_Claim] = []
    site = declarations.site
    if site is not None:
        if site.gpc.present and site.gpc.gpc is True:
            out.append(_Claim(f"{site.gpc.url} says gpc: true", (gpc,)))
        tsr = site.tsr
        if tsr.present and tsr.effective == "N" and tsr.effective_with_dnt == "N":
            out.append(_Claim(f"{tsr.url} says tracking N", (plain, dnt)))
        elif tsr.present and tsr.effective_with_dnt == "N":
            out.append(_Claim(f"{tsr.url} says tracking N to DNT:1 requests", (dnt,)))
        elif tsr.present and tsr.effective == "N":
            out.append(_Claim(f"{tsr.url} says tracking N to requests without DNT", (plain,)))
        if site.dnt_policy.present and site.dnt_policy.compliant:
            out.append(_Claim(f"{site.dnt_policy.url} posts the EFF DNT policy", (dnt,)))
    loads = [*states.values(), *(r for rs in (repeats or {}).values() for r in rs)]
    for result in loads:
        state = result.state
        if _unusable(result, state.value) is not None:
            continue
        for tk in result.traffic.tk:
            if tk.status != "N":
                continue
            host = host_of(tk.origin)
            party = _party(host, parties) if host is not None and tk.third_party else None
            text = f"{tk.origin} answered Tk: N ({_load_name(result)})"
            out.append(_Claim(text, (result,), party, one_load=True))
    for partner in declarations.partners:
        host = host_of(partner.origin)
        if host is None:
            continue
        party = _party(host, parties)
        if partner.gpc.present and partner.gpc.gpc is True:
            out.append(_Claim(f"partner {partner.gpc.url} says gpc: true", (gpc,), party))
        if partner.tsr.present and partner.tsr.effective_with_dnt == "N":
            out.append(_Claim(f"partner {partner.tsr.url} says tracking N", (dnt,), party))
    return out


def _load_name(result: StateResult) -> str:
    if result.repeat:
        return f"{result.state.value}, repeat load {result.repeat + 1}"
    return result.state.value


def _party(host: str, parties: SiteParties | None) -> str:
    """The party a host speaks for: a cloaked host speaks for its tracker."""
    return parties.recipient(host) if parties is not None else site_key(host)


def claims_contradicted(
    declarations: SiteDeclarations,
    states: States,
    repeats: Repeats | None = None,
    parties: SiteParties | None = None,
) -> Verdict:
    """With ``--repeat``, a declaration is checked against every usable load of
    the states it covers: a claim that holds on one load in three does not hold."""
    name = "claims_contradicted"
    evidence: list[Evidence] = []
    checked = 0
    site_contradicted: list[str] = []
    partners_contradicted: set[str] = set()
    exempt: set[str] = set()
    # The EFF policy binds recipients too: a partner that posts it is not a breach.
    for partner in declarations.partners:
        host = host_of(partner.origin)
        if host is not None and partner.dnt_policy.compliant:
            exempt.add(_party(host, parties))
    for claim in _claims(declarations, states, repeats, parties):
        usable = [r for r in claim.results if r is not None]
        if not claim.one_load:
            usable += [
                again
                for result in list(usable)
                for again in (repeats or {}).get(result.state, ())
                if _unusable(again, result.state.value) is None
            ]
        if not usable:
            evidence.append(
                Evidence("claim", f"{claim.text}: cannot be checked (visit failed)", decisive=False)
            )
            continue
        checked += 1
        counts = []
        for result in usable:
            count = claim.flows(result)
            if "EFF DNT policy" in claim.text:
                count -= sum(1 for f in result.identifiers.flows if f.recipient in exempt)
            if count > 0:
                counts.append(f"{count} with {_load_name(result)}")
        if counts:
            evidence.append(
                Evidence(
                    "contradiction",
                    f"{claim.text}, yet identifiers flow to {claim.party or 'third parties'}: "
                    + ", ".join(counts),
                    usable[0].state.value,
                    claim.party,
                )
            )
            if claim.party is None:
                site_contradicted.append(claim.text)
            else:
                partners_contradicted.add(claim.party)
        else:
            evidence.append(
                Evidence(
                    "claim",
                    f"{claim.text}: consistent with behaviour",
                    usable[0].state.value,
                    claim.party,
                    decisive=False,
                )
            )
    if site_contradicted or partners_contradicted:
        who = []
        if site_contradicted:
            who.append(f"{len(site_contradicted)} of the site's own")
        if partners_contradicted:
            who.append("partners' (" + ", ".join(sorted(partners_contradicted)) + ")")
        return Verdict(
            name, True, "claims contradicted by behaviour: " + " and ".join(who), tuple(evidence)
        )
    if checked == 0 and not evidence:
        return Verdict(
            name, None, "no claims to check: no gpc.json true, TSR N, EFF policy or Tk: N"
        )
    if checked == 0:
        return Verdict(
            name, None, "the claims could not be checked: the signal visits failed", tuple(evidence)
        )
    return Verdict(name, False, f"{checked} claim(s) checked, none contradicted", tuple(evidence))


def judge(
    states: States,
    declarations: SiteDeclarations,
    parties: SiteParties | None = None,
    repeats: Repeats | None = None,
) -> Verdicts:
    return Verdicts(
        gpc_honored=gpc_honored(states, repeats, parties),
        dnt_honored=dnt_honored(states, declarations, repeats, parties),
        declarations_valid=declarations_valid(declarations, states, parties),
        claims_contradicted=claims_contradicted(declarations, states, repeats, parties),
    )
