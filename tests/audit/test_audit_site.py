from __future__ import annotations

from audit_fakes import request, tracking_visit, visit
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.declarations import SiteDeclarations
from trackpref.audit.failures import Failure, FailureKind
from trackpref.audit.report import site_to_json
from trackpref.audit.runner import normalize_url
from trackpref.audit.site import analyse_site
from trackpref.audit.states import SignalState

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
