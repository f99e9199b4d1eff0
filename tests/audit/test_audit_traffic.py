from __future__ import annotations

from audit_fakes import request, visit

from trackpref.audit.observation import Observation
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState, spec_for
from trackpref.audit.traffic import check_signal, origin_of, summarise_traffic

PAGE = "https://shop.example/"
PARTIES = SiteParties.for_url(PAGE)


def test_third_parties_tk_and_cookies() -> None:
    obs = visit(
        SignalState.NO_SIGNAL,
        PAGE,
        request("https://cdn.shop.example/app.js"),
        request("https://a.tracker.example/t.js", response={"Tk": "T"}),
        request(
            "https://b.tracker.example/c",
            response=[("Set-Cookie", "tid=1; Path=/"), ("Set-Cookie", "x=2")],
        ),
        request("https://ads.example/px", response={"Tk": "G"}),
        tk="N",
    )
    summary = summarise_traffic(obs, PARTIES)
    assert (summary.first_party_requests, summary.third_party_requests) == (2, 3)
    tracker = summary.third_parties[0]
    assert (tracker.site, tracker.requests, tracker.set_cookies) == ("tracker.example", 2, 2)
    assert tracker.hosts == ("a.tracker.example", "b.tracker.example")
    tk = {t.origin: t for t in summary.tk}
    assert tk["https://shop.example"].status == "N"
    assert not tk["https://shop.example"].third_party
    assert tk["https://a.tracker.example"].status == "T"
    assert tk["https://ads.example"].problem is not None
    assert "G" in tk["https://ads.example"].problem
    assert {(c.site, c.name) for c in summary.set_cookies} == {
        ("tracker.example", "tid"),
        ("tracker.example", "x"),
    }
    assert summary.first_party_responses == 2
    assert summary.first_party_responses_with_tk == 1


def test_signal_verified_only_when_it_was_on_the_wire() -> None:
    state = SignalState.DNT1_GPC
    good = visit(state, PAGE, request("https://x.example/a", state=state))
    assert check_signal(good, spec_for(state)).verified
    # The page request went out without the headers: nothing can be concluded.
    bare = Observation(state, PAGE, requests=(request(PAGE, navigation=True),), final_url=PAGE)
    check = check_signal(bare, spec_for(state))
    assert not check.verified
    assert check.document_ok is False


def test_no_signal_state_must_send_nothing() -> None:
    leaked = visit(
        SignalState.NO_SIGNAL, PAGE, request("https://x.example/", state=SignalState.DNT1_GPC)
    )
    check = check_signal(leaked, spec_for(SignalState.NO_SIGNAL))
    assert check.document_ok
    assert not check.verified


def test_origin_of() -> None:
    assert origin_of("https://User@Shop.Example:8443/x?y") == "https://shop.example:8443"
    assert origin_of("data:text/plain,hi") is None
    assert origin_of("http://shop.example:/x") == "http://shop.example"
    assert origin_of("https://shop.example:443/") == "https://shop.example"
    assert origin_of("http://[::1]:8080/") == "http://[::1]:8080"
