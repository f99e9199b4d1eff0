from __future__ import annotations

import dataclasses
import json

import pytest
from audit_fakes import request, tracking_visit, visit
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.declarations import (
    Fetched,
    OriginDeclarations,
    SiteDeclarations,
    evaluate_dnt_policy,
    evaluate_gpc_json,
    evaluate_tsr,
)
from trackpref.audit.failures import Failure, FailureKind
from trackpref.audit.observation import Observation
from trackpref.audit.report import site_to_json
from trackpref.audit.runner import normalize_url
from trackpref.audit.site import SiteAudit, analyse_site
from trackpref.audit.states import SignalState
from trackpref.audit.trackers import TrackerKnowledge

PAGE = "https://shop.example/"
S0, S1, S2 = SignalState.NO_SIGNAL, SignalState.DNT1_GPC, SignalState.DNT0


def test_repeat_visits_show_the_noise() -> None:
    visits = {
        S0: [
            tracking_visit(S0, PAGE, "a1b2c3d4e5f6a7b8c9d0"),
            tracking_visit(S0, PAGE, "9a8b7c6d5e4f3a2b1c0d"),
        ],
        S1: [visit(S1, PAGE), visit(S1, PAGE)],
    }
    audit = analyse_site(PAGE, visits, SiteDeclarations(), audited_at="t")
    assert audit.states[S0].repeat == 0
    assert [r.repeat for r in audit.repeats[S0]] == [1]
    site = site_to_json(audit)
    assert site["states"]["no-signal"]["repeats"] == [
        {
            "third_party_requests": 2,
            "third_party_sites": 1,
            "third_party_identifiers": 2,
            "third_party_identifier_cookies": 0,
            "cookie_syncs": 0,
            "referrer_leaks": 0,
            "ok": True,
        }
    ]
    assert audit.verdicts.gpc_honored.value is True


def test_a_value_repeated_across_repeat_visits_is_a_constant() -> None:
    same = "f00dfeed1234abcd5678"
    visits = {S0: [tracking_visit(S0, PAGE, same), tracking_visit(S0, PAGE, same)]}
    audit = analyse_site(PAGE, visits, SiteDeclarations(), audited_at="t")
    assert audit.states[S0].identifiers.flows == ()


def test_failed_states_make_a_site_error_naming_them() -> None:
    failure = Failure(FailureKind.TIMEOUT, "the page did not finish loading in 2 s")
    visits = {
        S0: [visit(S0, PAGE)],
        S1: [visit(S1, PAGE, failure=failure)],
        S2: [visit(S2, PAGE, request("https://x.example/", state=S2))],
    }
    audit = analyse_site(PAGE, visits, SiteDeclarations(), audited_at="t")
    assert audit.failure is not None
    assert audit.failure.kind is FailureKind.TIMEOUT
    assert audit.failure.message.startswith("visit(s) dnt1-gpc failed")
    assert site_to_json(audit)["error"]["states"] == ["dnt1-gpc"]


def test_normalize_url() -> None:
    assert normalize_url("example.com") == "https://example.com/"
    assert normalize_url(" http://127.0.0.1:8000 ") == "http://127.0.0.1:8000/"
    assert normalize_url("https://a.example/x?q=1") == "https://a.example/x?q=1"


@given(st.text(max_size=100))
def test_normalize_url_accepts_or_names_the_problem(text: str) -> None:
    try:
        url, problem = normalize_url(text), ""
    except ValueError as exc:
        url, problem = "", str(exc)
    assert url.startswith(("http://", "https://")) or problem


# -- a site's own same-party list -------------------------------------------------

TSR_TYPE = "application/tracking-status+json"


def _with_tsr(body: str, content_type: str = TSR_TYPE) -> SiteDeclarations:
    tsr_url = "https://shop.example/.well-known/dnt/"
    tsr = Fetched(tsr_url, tsr_url, 200, (("Content-Type", content_type),), body.encode())
    missing = Fetched("https://shop.example/x", "https://shop.example/x", 404)
    return SiteDeclarations(
        OriginDeclarations(
            "https://shop.example",
            evaluate_tsr(tsr, with_dnt=tsr),
            evaluate_gpc_json(missing),
            evaluate_dnt_policy(missing),
        )
    )


def _tracking_everywhere() -> dict[SignalState, list[Observation]]:
    uids = {S0: "Zq8x0Kp3Lm9Qw7Rt2", S1: "Zq8x1Kp3Lm9Qw7Rt2", S2: "Zq8x2Kp3Lm9Qw7Rt2"}
    return {s: [tracking_visit(s, PAGE, uid)] for s, uid in uids.items()}


def _same_party_evidence(audit: SiteAudit) -> list[str]:
    return [e.detail for e in audit.verdicts.gpc_honored.evidence if e.kind == "same-party"]


@pytest.mark.parametrize(
    ("entry", "why"),
    [("example", "a public suffix"), ("tracker.example", "a known tracker (tds)")],
)
def test_a_tsr_cannot_declare_a_suffix_or_a_tracker_same_party(entry: str, why: str) -> None:
    declarations = _with_tsr(json.dumps({"tracking": "T", "same-party": [entry]}))
    assert declarations.site is not None
    assert declarations.site.tsr.valid is True
    knowledge = TrackerKnowledge(tds_trackers=frozenset({"tracker.example"}))
    audit = analyse_site(
        PAGE, _tracking_everywhere(), declarations, audited_at="t", knowledge=knowledge
    )
    assert audit.verdicts.gpc_honored.value is False
    assert audit.verdicts.dnt_honored.value is False
    assert audit.parties is not None
    assert audit.parties.same_party == ()
    assert any(entry in d and why in d for d in _same_party_evidence(audit))


def test_an_invalid_tsr_declares_nothing_same_party() -> None:
    body = json.dumps({"tracking": "T", "same-party": ["tracker.example"]})
    declarations = _with_tsr(body, "text/html")
    assert declarations.site is not None
    assert declarations.site.tsr.valid is False
    audit = analyse_site(PAGE, _tracking_everywhere(), declarations, audited_at="t")
    assert audit.verdicts.gpc_honored.value is False
    assert audit.verdicts.compliant is False
    assert any("not valid" in d for d in _same_party_evidence(audit))


def test_an_honored_same_party_entry_is_shown_in_the_evidence() -> None:
    declarations = _with_tsr(json.dumps({"tracking": "T", "same-party": ["tracker.example"]}))
    audit = analyse_site(PAGE, _tracking_everywhere(), declarations, audited_at="t")
    # Honored (a valid TSR, nothing known against it), but not silently.
    assert audit.verdicts.gpc_honored.value is True
    exempted = [
        e
        for e in audit.verdicts.gpc_honored.evidence
        if e.kind == "same-party" and e.party == "tracker.example"
    ]
    assert exempted
    assert not exempted[0].decisive
    assert "2 request(s) to tracker.example not counted as third-party" in exempted[0].detail
    assert "'tracker.example'" in exempted[0].detail
    assert site_to_json(audit)["verdicts"]["evidence"]["dnt_honored"]


# -- --repeat --------------------------------------------------------------------


def test_a_repeat_load_that_tracks_makes_the_signal_not_honored() -> None:
    visits = {
        S0: [tracking_visit(S0, PAGE, "Zq8xAKp3Lm9Qw7Rt2")],
        S1: [visit(S1, PAGE), tracking_visit(S1, PAGE, "Zq8xBKp3Lm9Qw7Rt2")],
        S2: [visit(S2, PAGE)],
    }
    audit = analyse_site(PAGE, visits, SiteDeclarations(), audited_at="t")
    for verdict in (audit.verdicts.gpc_honored, audit.verdicts.dnt_honored):
        assert verdict.value is False, verdict.summary
        assert "on 1 of 2 loads" in verdict.summary
        flows = [e for e in verdict.evidence if e.kind == "identifier-flow"]
        assert flows
        assert flows[0].decisive
        assert flows[0].detail.startswith("repeat load 2: ")


def test_a_failed_repeat_load_counts_for_nothing() -> None:
    failure = Failure(FailureKind.TIMEOUT, "the page did not finish loading in 2 s")
    visits = {
        S0: [visit(S0, PAGE)],
        S1: [visit(S1, PAGE), visit(S1, PAGE, failure=failure)],
        S2: [visit(S2, PAGE)],
    }
    audit = analyse_site(PAGE, visits, SiteDeclarations(), audited_at="t")
    assert audit.verdicts.gpc_honored.value is True
    assert any(
        e.detail.startswith("repeat load 2 not counted")
        for e in audit.verdicts.gpc_honored.evidence
    )


def test_what_a_visit_could_not_read_is_in_the_report() -> None:
    hung = dataclasses.replace(visit(S1, PAGE), unread=("storage", "consent"))
    visits = {S0: [visit(S0, PAGE)], S1: [hung], S2: [visit(S2, PAGE)]}
    audit = analyse_site(PAGE, visits, SiteDeclarations(), audited_at="t")
    site = site_to_json(audit)
    assert site["states"]["dnt1-gpc"]["unread"] == ["storage", "consent"]
    assert site["states"]["no-signal"]["unread"] == []
    notes = [e.detail for e in audit.verdicts.gpc_honored.evidence if e.kind == "note"]
    assert any(n.startswith("could not read storage or consent") for n in notes)
