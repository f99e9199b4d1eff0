from __future__ import annotations

from audit_fakes import request, visit
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.referrers import find_referrer_leaks, leaked_parts
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState

PAGE = "https://shop.example/search?q=red+shoes"
PARTIES = SiteParties.for_url(PAGE)
S0 = SignalState.NO_SIGNAL


def test_full_referer_at_a_third_party_is_a_leak_with_its_terms() -> None:
    obs = visit(
        S0,
        PAGE,
        request("https://tracker.example/px", headers={"referer": PAGE}),
        request("https://tracker.example/px2", headers={"referer": PAGE}),
    )
    (leak,) = find_referrer_leaks(obs, PARTIES)
    assert leak.recipient == "tracker.example"
    assert leak.via == "referer"
    assert leak.query_terms == ("q=red shoes",)
    assert leak.severity == "query"
    assert leak.requests == 2


def test_origin_only_referer_and_first_party_requests_are_not_leaks() -> None:
    obs = visit(
        S0,
        PAGE,
        request("https://tracker.example/px", headers={"referer": "https://shop.example/"}),
        request("https://www.shop.example/api", headers={"referer": PAGE}),
    )
    assert find_referrer_leaks(obs, PARTIES) == ()


def test_page_url_copied_into_a_query_parameter() -> None:
    obs = visit(
        S0,
        PAGE,
        request("https://tracker.example/c?u=https%3A%2F%2Fshop.example%2Fcart%2F42&e=1"),
    )
    (leak,) = find_referrer_leaks(obs, PARTIES)
    assert leak.via == "query:u"
    assert leak.leaked_url == "https://shop.example/cart/42"
    assert leak.severity == "path"


@given(st.text(max_size=200))
def test_leaked_parts_never_raises(url: str) -> None:
    out = leaked_parts(url, PARTIES)
    assert out is None or out[0].startswith("http")
