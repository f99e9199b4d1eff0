from __future__ import annotations

import string
import time

from audit_fakes import request, tracking_visit, visit
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.identifiers import (
    analyse_identifiers,
    entropy_bits,
    is_identifier_like,
    request_tokens,
)
from trackpref.audit.observation import CookieRecord, Observation, StorageRecord
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState

PAGE = "https://shop.example/"
PARTIES = SiteParties.for_url(PAGE)
S0, S1, S2 = SignalState.NO_SIGNAL, SignalState.DNT1_GPC, SignalState.DNT0


def test_shapes() -> None:
    assert is_identifier_like("3f2504e04f8911d39a0c0305e82c3301")
    assert is_identifier_like("GA1.2.1234567890.1700000000")
    assert is_identifier_like("aZ9kq7LmP2xR")
    assert not is_identifier_like("pageview")
    assert not is_identifier_like("visibility")
    assert not is_identifier_like("https://shop.example/a")
    assert not is_identifier_like("/path/to/file.js")
    assert not is_identifier_like("1234567")
    assert not is_identifier_like(str(int(time.time())))
    assert not is_identifier_like(str(int(time.time() * 1000)))
    assert not is_identifier_like("aaaaaaaaaaaaaaaa1")
    assert entropy_bits("") == 0


@given(st.text(alphabet="0123456789abcdef", min_size=16, max_size=64))
def test_random_hex_ids_are_identifiers(value: str) -> None:
    # Low-variety draws (all one digit) are legitimately refused.
    if len(set(value)) >= 8:
        assert is_identifier_like(value)


@given(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=19))
def test_short_lowercase_words_are_not(value: str) -> None:
    assert not is_identifier_like(value)


@given(st.text(max_size=300))
def test_is_identifier_like_never_raises(value: str) -> None:
    assert isinstance(is_identifier_like(value), bool)


def test_tokens_from_cookie_query_path_and_body() -> None:
    req = request(
        "https://t.example/p/0a1b2c3d4e5f60718293/x?uid=9f8e7d6c5b4a39281706&ev=view",
        headers={
            "cookie": "sid=ZXhhbXBsZTEyMzQ1Njc4OQ; lang=en",
            "content-type": "application/json",
        },
        post=b'{"user": {"id": "c0ffee17ab42d95e8f3b1a"}, "n": 3}',
    )
    tokens = {where: value for value, where in request_tokens(req)}
    assert tokens["cookie:sid"] == "ZXhhbXBsZTEyMzQ1Njc4OQ"
    assert tokens["query:uid"] == "9f8e7d6c5b4a39281706"
    assert tokens["path"] == "0a1b2c3d4e5f60718293"
    assert tokens["body:id"] == "c0ffee17ab42d95e8f3b1a"
    assert "cookie:lang" not in tokens


def test_a_body_nested_deeper_than_json_loads_recurses_is_skipped() -> None:
    req = request(
        "https://t.example/p?uid=9f8e7d6c5b4a39281706",
        headers={"content-type": "application/json"},
        post=b'{"a": ' * 50_000,
    )
    tokens = {where: value for value, where in request_tokens(req)}
    assert tokens == {"query:uid": "9f8e7d6c5b4a39281706"}


def test_recurring_values_reaching_a_third_party_are_flows() -> None:
    reports = analyse_identifiers(
        {
            S0: tracking_visit(S0, PAGE, "a1b2c3d4e5f6a7b8c9d0"),
            S1: tracking_visit(S1, PAGE, "0f9e8d7c6b5a49382716"),
        },
        PARTIES,
    )
    flows = reports[S0].flows
    assert {f.recipient for f in flows} == {"tracker.example"}
    by_value = {f.value: f for f in flows}
    assert by_value["a1b2c3d4e5f6a7b8c9d0"].requests == 2
    assert by_value["a1b2c3d4e5f6a7b8c9d0"].via == ("query:uid",)
    assert by_value["0d9c8b7a6f5e4d3c2b1a"].set_by_recipient


def test_values_seen_in_two_fresh_contexts_are_constants() -> None:
    publisher = "PUB7f3a9c2e1b0d44"

    def page(state: SignalState, uid: str) -> Observation:
        return visit(
            state,
            PAGE,
            request(f"https://tracker.example/c?pid={publisher}&uid={uid}", state=state),
            request(f"https://tracker.example/c?pid={publisher}&uid={uid}&e=2", state=state),
        )

    reports = analyse_identifiers(
        {S0: page(S0, "a7f3c91e5b2d8046fe1c"), S2: page(S2, "4e8b1d6f0a9c3e7b5d21")},
        PARTIES,
    )
    values = {f.value for f in reports[S0].flows}
    assert values == {"a7f3c91e5b2d8046fe1c"}
    assert reports[S0].constants == 1


def test_a_value_sent_once_and_never_stored_is_a_cache_buster() -> None:
    obs = visit(S0, PAGE, request("https://tracker.example/c?cb=8f7e6d5c4b3a2f1e0d9c", state=S0))
    assert analyse_identifiers({S0: obs}, PARTIES)[S0].flows == ()


def test_first_party_values_stay_out_of_flows_but_sharing_is_seen() -> None:
    uid = "5e5e5e5e1a1a1a1a9c9c9c9c"
    obs = visit(
        S0,
        PAGE,
        request(f"https://shop.example/api?uid={uid}", state=S0),
        request(f"https://pixel.example/px?fp={uid}", state=S0),
        cookies=(CookieRecord("_uid", uid, "shop.example"),),
    )
    report = analyse_identifiers({S0: obs}, PARTIES)[S0]
    assert [(f.recipient, f.owner) for f in report.flows] == [("pixel.example", "shop.example")]
    assert report.flows[0].shared_by_first_party
    cookie = report.cookies[0]
    assert (cookie.site, cookie.third_party) == ("shop.example", False)


def test_cookie_sync_between_third_parties() -> None:
    aid = "Qm9vazEyMzQ1Njc4OTBhYmNk"
    obs = visit(
        S0,
        PAGE,
        request(
            "https://ads.example/px",
            state=S0,
            status=302,
            response={"Set-Cookie": f"aid={aid}; Path=/", "Location": "https://sync.example/m"},
        ),
        request(f"https://sync.example/m?puid={aid}", state=S0),
    )
    report = analyse_identifiers({S0: obs}, PARTIES)[S0]
    assert [(s.source, s.target, s.via) for s in report.syncs] == [
        ("ads.example", "sync.example", "query:puid")
    ]


def test_same_party_domains_are_not_third_parties() -> None:
    uid = "77aa88bb99cc00dd11ee"
    obs = visit(
        S0,
        PAGE,
        request(f"https://shop-cdn.example/a?u={uid}", state=S0),
        request(f"https://shop-cdn.example/b?u={uid}", state=S0),
    )
    parties = SiteParties.for_url(PAGE, same_party=("shop-cdn.example",))
    assert analyse_identifiers({S0: obs}, parties)[S0].flows == ()
    assert len(analyse_identifiers({S0: obs}, PARTIES)[S0].flows) == 1


def test_a_cached_url_parameter_sent_only_by_the_request_that_cached_it_is_no_flow() -> None:
    """A cache-buster on a pixel a service worker keeps: the only request with
    it is the one whose answer was cached, so nothing was stored apart from
    that send. Sent anywhere else too, it is a stored value that travels."""
    cb = "0123456789abcdef0123"
    item = StorageRecord("https://shop.example", "cache", "sw-v1 https://t.example/px ?cb", cb)
    filled = request(f"https://t.example/px?cb={cb}")
    alone = analyse_identifiers({S0: visit(S0, PAGE, filled, storage=(item,))}, PARTIES)[S0]
    assert alone.storage == ()
    assert alone.flows == ()  # one send of a value not stored apart from it
    elsewhere = request(f"https://other.example/sync?id={cb}")
    both = analyse_identifiers({S0: visit(S0, PAGE, filled, elsewhere, storage=(item,))}, PARTIES)[
        S0
    ]
    assert both.storage == (("shop.example", "sw-v1 https://t.example/px ?cb", cb),)


def test_storage_identifiers_are_reported() -> None:
    uid = "0123456789abcdef0123"
    obs = visit(S0, PAGE, storage=(StorageRecord("https://shop.example", "local", "_trk", uid),))
    report = analyse_identifiers({S0: obs}, PARTIES)[S0]
    assert report.storage == (("shop.example", "_trk", uid),)
