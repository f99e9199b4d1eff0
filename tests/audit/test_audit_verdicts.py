from __future__ import annotations

import hashlib
import json

from audit_fakes import request, tracking_visit, visit

from trackpref.audit.analysis import StateResult, analyse_states
from trackpref.audit.consent import ConsentSnapshot
from trackpref.audit.declarations import (
    Fetched,
    OriginDeclarations,
    SiteDeclarations,
    evaluate_dnt_policy,
    evaluate_gpc_json,
    evaluate_tsr,
)
from trackpref.audit.failures import Failure, FailureKind
from trackpref.audit.gpp import encode_gpp, encode_us_section
from trackpref.audit.observation import Observation
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState
from trackpref.audit.verdicts import (
    claims_contradicted,
    declarations_valid,
    dnt_honored,
    gpc_honored,
    judge,
)

PAGE = "https://shop.example/"
PARTIES = SiteParties.for_url(PAGE)
S0, S1, S2 = SignalState.NO_SIGNAL, SignalState.DNT1_GPC, SignalState.DNT0
UIDS = {S0: "a1b2c3d4e5f6a7b8c9d0", S1: "0f9e8d7c6b5a49382716", S2: "5d4c3b2a1f0e9d8c7b6a"}


def states(*observations: Observation) -> dict[SignalState, StateResult]:
    analysed = analyse_states({o.state: [o] for o in observations}, PARTIES)
    return {s: r[0] for s, r in analysed.items()}


def tracks(state: SignalState) -> Observation:
    return tracking_visit(state, PAGE, UIDS[state])


def clean(
    state: SignalState,
    *,
    tk: str | None = None,
    consent: ConsentSnapshot | None = None,
    failure: Failure | None = None,
) -> Observation:
    app = request("https://shop.example/app.js", state=state)
    return visit(state, PAGE, app, tk=tk, consent=consent, failure=failure)


def fetched(path: str, body: str | bytes, content_type: str, status: int = 200) -> Fetched:
    url = "https://shop.example" + path
    data = body.encode() if isinstance(body, str) else body
    return Fetched(url, url, status, (("Content-Type", content_type),), data)


def absent(path: str) -> Fetched:
    return fetched(path, "", "text/plain", status=404)


def site_declarations(
    *,
    tsr: str | None = None,
    gpc: str | None = None,
    gpc_type: str = "application/json",
    policy: bytes | None = None,
    accepted: dict[str, str] | None = None,
    origin: str = "https://shop.example",
) -> OriginDeclarations:
    tsr_fetch = (
        fetched("/.well-known/dnt/", tsr, "application/tracking-status+json")
        if tsr is not None
        else absent("/.well-known/dnt/")
    )
    gpc_fetch = fetched("/.well-known/gpc.json", gpc, gpc_type) if gpc is not None else absent("/g")
    policy_fetch = (
        fetched("/.well-known/dnt-policy.txt", policy, "text/plain") if policy else absent("/p")
    )
    return OriginDeclarations(
        origin,
        evaluate_tsr(tsr_fetch),
        evaluate_gpc_json(gpc_fetch),
        evaluate_dnt_policy(policy_fetch, accepted=accepted),
    )


NONE = SiteDeclarations(site_declarations())


# -- gpc_honored / dnt_honored ---------------------------------------------------


def test_honoring_site() -> None:
    result = states(tracks(S0), clean(S1), tracks(S2))
    gpc = gpc_honored(result)
    assert gpc.value is True
    (comparison,) = [e for e in gpc.evidence if e.kind == "comparison"]
    assert "2 without a signal, 0 with dnt1-gpc" in comparison.detail
    assert not comparison.decisive
    assert dnt_honored(result, NONE).value is True


def test_ignoring_site() -> None:
    result = states(tracks(S0), tracks(S1), tracks(S2))
    verdict = gpc_honored(result)
    assert verdict.value is False
    assert "ignored" in verdict.summary
    decisive = [e for e in verdict.evidence if e.decisive]
    assert {e.kind for e in decisive} == {"identifier-flow"}
    assert decisive[0].party == "tracker.example"
    assert dnt_honored(result, NONE).value is False


def test_partly_honoring_site() -> None:
    partial = visit(
        S1,
        PAGE,
        request(f"https://tracker.example/c?uid={UIDS[S1]}", state=S1),
        request(f"https://tracker.example/c?uid={UIDS[S1]}&e=2", state=S1),
    )
    verdict = gpc_honored(states(tracks(S0), partial))
    assert verdict.value is False
    assert "partly" in verdict.summary


def test_failed_or_unverified_signal_visit_is_unknown() -> None:
    failed = clean(S1, failure=Failure(FailureKind.TIMEOUT, "slow"))
    verdict = gpc_honored(states(tracks(S0), failed))
    assert verdict.value is None
    assert "failed (timeout)" in verdict.summary
    # The page request of the signal visit carried no Sec-GPC: the site never saw it.
    unsent = Observation(S1, PAGE, requests=(request(PAGE, navigation=True),))
    assert gpc_honored(states(tracks(S0), unsent)).value is None
    assert gpc_honored({}).value is None


def test_opt_out_strings_must_record_the_opt_out() -> None:
    no = ConsentSnapshot(usp_api="1YNN")
    verdict = gpc_honored(states(tracks(S0), clean(S1, consent=no)))
    assert verdict.value is False
    assert "not recorded" in verdict.summary
    gpp = encode_gpp([(7, encode_us_section(7, fields=[("SaleOptOut", 1)], gpc=True))])
    yes = ConsentSnapshot(usp_api="1YYN", gpp_api=gpp)
    assert gpc_honored(states(tracks(S0), clean(S1, consent=yes))).value is True


def test_tk_disregarding_fails_dnt_only() -> None:
    result = states(tracks(S0), clean(S1, tk="D"))
    verdict = dnt_honored(result, NONE)
    assert verdict.value is False
    assert any(e.kind == "tk" for e in verdict.evidence)
    assert gpc_honored(result).value is True


def test_separate_dnt_and_gpc_states_decide_separately() -> None:
    dnt_only = SignalState.DNT1
    gpc_only = SignalState.GPC
    uid = "9a8b7c6d5e4f3a2b1c0d"
    result = states(
        tracks(S0),
        clean(S1),
        tracking_visit(dnt_only, PAGE, uid),
        clean(gpc_only),
    )
    assert gpc_honored(result).value is True
    assert dnt_honored(result, NONE).value is False


# -- declarations_valid ------------------------------------------------------------


def test_no_declarations_is_unknown() -> None:
    assert declarations_valid(NONE, states(clean(S0)), PARTIES).value is None


def test_valid_declarations() -> None:
    decl = SiteDeclarations(site_declarations(tsr='{"tracking": "N"}', gpc='{"gpc": true}'))
    verdict = declarations_valid(decl, states(clean(S0, tk="N")), PARTIES)
    assert verdict.value is True


def test_malformed_declarations() -> None:
    decl = SiteDeclarations(
        site_declarations(tsr='{"tracking": "N"}', gpc='{"gpc": "true"}', gpc_type="text/plain")
    )
    verdict = declarations_valid(decl, states(clean(S0)), PARTIES)
    assert verdict.value is False
    details = " ".join(e.detail for e in verdict.evidence)
    assert "text/plain" in details
    assert '"true"' in details


def test_first_party_tk_problems_count_third_party_ones_do_not() -> None:
    third = visit(S0, PAGE, request("https://t.example/x", response={"Tk": "G"}))
    assert declarations_valid(NONE, states(third), PARTIES).value is None
    first = clean(S0, tk="N;bad id")
    verdict = declarations_valid(NONE, states(first), PARTIES)
    assert verdict.value is False


def test_dynamic_tsr_needs_tk_on_every_first_party_response() -> None:
    decl = SiteDeclarations(site_declarations(tsr='{"tracking": "?"}'))
    verdict = declarations_valid(decl, states(clean(S0, tk="?;abc")), PARTIES)
    assert verdict.value is False
    assert any("had no Tk" in e.detail for e in verdict.evidence)


def test_a_site_wide_question_mark_speaks_for_its_own_origin_only() -> None:
    # www.shop.example serves '?' and Tk on its own responses; img.shop.example
    # is another origin (with its own /.well-known/dnt/, or none).
    page = "https://www.shop.example/"
    decl = SiteDeclarations(
        site_declarations(tsr='{"tracking": "?"}', origin="https://www.shop.example")
    )
    image = request("https://img.shop.example/logo.png", state=S0)
    observed = visit(S0, page, image, tk="?;abc")
    verdict = declarations_valid(decl, states(observed), PARTIES)
    assert verdict.value is True, [e.detail for e in verdict.evidence]
    own = request("https://www.shop.example/app.js", state=S0)
    verdict = declarations_valid(decl, states(visit(S0, page, own, tk="?;abc")), PARTIES)
    assert verdict.value is False
    assert any(
        "1 response(s) from https://www.shop.example had no Tk" in e.detail
        for e in verdict.evidence
    )


# -- claims_contradicted -------------------------------------------------------------


def test_no_claims_is_unknown() -> None:
    assert claims_contradicted(NONE, states(tracks(S0), tracks(S1))).value is None


def test_gpc_json_true_with_identifiers_flowing_is_contradicted() -> None:
    decl = SiteDeclarations(site_declarations(gpc='{"gpc": true}', tsr='{"tracking": "N"}'))
    verdict = claims_contradicted(decl, states(tracks(S0), tracks(S1)))
    assert verdict.value is True
    texts = [e.detail for e in verdict.evidence if e.kind == "contradiction"]
    assert any("gpc: true" in t for t in texts)
    assert any("tracking N" in t and "no-signal" in t and "dnt1-gpc" in t for t in texts)


def test_claims_consistent_with_behaviour() -> None:
    decl = SiteDeclarations(site_declarations(gpc='{"gpc": true}'))
    verdict = claims_contradicted(decl, states(tracks(S0), clean(S1)))
    assert verdict.value is False


def test_tk_n_from_a_partner_that_receives_identifiers() -> None:
    obs = visit(
        S1,
        PAGE,
        request(f"https://tracker.example/c?uid={UIDS[S1]}", state=S1, response={"Tk": "N"}),
        request(f"https://tracker.example/c?uid={UIDS[S1]}&e=2", state=S1),
    )
    verdict = claims_contradicted(NONE, states(clean(S0), obs))
    assert verdict.value is True
    assert "tracker.example" in verdict.summary


def test_eff_policy_binds_recipients_unless_they_post_it() -> None:
    policy = b"the policy"
    accepted = {hashlib.sha1(policy, usedforsecurity=False).hexdigest(): "v"}
    site = site_declarations(policy=policy, accepted=accepted)
    result = states(clean(S0), tracks(S1))
    assert claims_contradicted(SiteDeclarations(site), result).value is True
    partner = site_declarations(policy=policy, accepted=accepted, origin="https://tracker.example")
    verdict = claims_contradicted(SiteDeclarations(site, (partner,)), result)
    assert verdict.value is False


def test_partner_gpc_claim() -> None:
    partner = site_declarations(gpc=json.dumps({"gpc": True}), origin="https://tracker.example")
    verdict = claims_contradicted(SiteDeclarations(None, (partner,)), states(clean(S0), tracks(S1)))
    assert verdict.value is True
    assert verdict.evidence[0].party == "tracker.example"


def with_repeats(
    *loads: list[Observation],
) -> tuple[dict[SignalState, StateResult], dict[SignalState, list[StateResult]]]:
    """First loads and repeat loads, analysed together as the runner does."""
    analysed = analyse_states({obs[0].state: obs for obs in loads}, PARTIES)
    return {s: r[0] for s, r in analysed.items()}, {s: r[1:] for s, r in analysed.items()}


def test_a_claim_broken_on_a_repeat_load_is_contradicted() -> None:
    decl = SiteDeclarations(site_declarations(gpc='{"gpc": true}'))
    again = tracking_visit(S1, PAGE, "9a8b7c6d5e4f3a2b1c0d")
    first, repeats = with_repeats([clean(S0)], [clean(S1), clean(S1), again])
    assert claims_contradicted(decl, first).value is False, "the first load alone is clean"
    verdict = claims_contradicted(decl, first, repeats)
    assert verdict.value is True
    [text] = [e.detail for e in verdict.evidence if e.kind == "contradiction"]
    assert "with dnt1-gpc, repeat load 3" in text
    assert judge(first, decl, PARTIES, repeats).claims_contradicted.value is True


def test_tk_n_on_a_repeat_load_speaks_for_that_load_only() -> None:
    said_n = visit(S1, PAGE, request("https://tracker.example/c", state=S1, response={"Tk": "N"}))
    tracked = visit(
        S1,
        PAGE,
        request(f"https://tracker.example/c?uid={UIDS[S1]}", state=S1),
        request(f"https://tracker.example/c?uid={UIDS[S1]}&e=2", state=S1),
    )
    first, repeats = with_repeats([clean(S0)], [tracked, said_n])
    verdict = claims_contradicted(NONE, first, repeats)
    assert verdict.value is False, "the load that answered N sent nothing"
    [claim] = [e for e in verdict.evidence if e.kind == "claim"]
    assert "Tk: N (dnt1-gpc, repeat load 2)" in claim.detail


def test_an_opt_out_string_that_says_no_on_a_repeat_load_fails_gpc() -> None:
    yes = ConsentSnapshot(usp_api="1YYN")
    no = ConsentSnapshot(usp_api="1YNN")
    first, repeats = with_repeats([tracks(S0)], [clean(S1, consent=yes), clean(S1, consent=no)])
    assert gpc_honored(first).value is True
    verdict = gpc_honored(first, repeats)
    assert verdict.value is False
    assert any(
        e.kind == "consent-string" and e.detail.startswith("repeat load 2: ") and e.decisive
        for e in verdict.evidence
    )
    # The first load's string recorded the opt-out, but not every load's did.
    assert not any("record the opt-out" in e.detail for e in verdict.evidence)
    assert any("record the opt-out" in e.detail for e in gpc_honored(first).evidence)


def test_judge_and_compliance() -> None:
    decl = SiteDeclarations(site_declarations(gpc='{"gpc": true}'))
    honest = judge(states(tracks(S0), clean(S1), tracks(S2)), decl, PARTIES)
    assert honest.compliant is True
    as_json = honest.to_json()
    assert set(as_json) >= {
        "gpc_honored",
        "dnt_honored",
        "declarations_valid",
        "claims_contradicted",
        "evidence",
    }
    liar = judge(states(tracks(S0), tracks(S1), tracks(S2)), decl, PARTIES)
    assert liar.compliant is False
    assert liar.claims_contradicted.value is True
