from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.decision import Knowledge, decide_request, learning_pair, tracking_verdict
from trackpref.agent.declarations import Declaration, DeclarationCache
from trackpref.agent.domains import DomainSet
from trackpref.agent.learning import TrackerLearner
from trackpref.agent.preference_file import UserPreference
from trackpref.agent.protections import Protections
from trackpref.agent.request import RequestInfo
from trackpref.agent.tds import Surrogate, load_tds
from trackpref.signals.preference import PreferenceState

NOW = 1_750_000_000.0
DNT = UserPreference(PreferenceState.DO_NOT_TRACK)
ALLOW = UserPreference(PreferenceState.ALLOW)
UNSET = UserPreference()

TDS = load_tds(
    {
        "trackers": {
            "ads.example": {
                "default": "block",
                "owner": {"name": "Ads"},
                "rules": [
                    {"rule": "ads\\.example/lib\\.js", "surrogate": "lib.js"},
                ],
            },
            "cdn-tracker.example": {"default": "ignore", "owner": {"name": "CDN"}},
        },
        "entities": {"Ads": {"domains": ["ads.example", "ads-static.example"]}},
    }
)
LIB = Surrogate("lib.js", "application/javascript", b"window.lib={};")


def req(
    host: str,
    site: str | None,
    path: str = "/x",
    *,
    type_: str = "script",
    navigation: bool = False,
    referrer: str | None = None,
    gpc: tuple[str, ...] = (),
    from_browser: bool = True,
    scheme: str = "https",
) -> RequestInfo:
    return RequestInfo(
        "GET",
        scheme,
        host,
        443 if scheme == "https" else 80,
        path,
        site,
        type_,
        navigation,
        referrer,
        gpc,
        from_browser,
    )


def test_unset_changes_nothing_at_all() -> None:
    k = Knowledge(trackers=TDS)
    d = decide_request(
        req("ads.example", "news.example", referrer="https://news.example/a?b"), UNSET, k, NOW
    )
    assert d.signals.untouched
    assert not d.block
    assert not d.strip_cookies
    assert not d.referrer_changed
    assert d.path is None
    assert d.state is PreferenceState.UNSET


def test_allow_sends_dnt_0_and_protects_nothing() -> None:
    d = decide_request(
        req("ads.example", "news.example", gpc=("1",)), ALLOW, Knowledge(trackers=TDS), NOW
    )
    assert d.signals.dnt == ("0",)
    assert d.signals.gpc == ("1",)
    assert not d.block


def test_do_not_track_blocks_third_party_trackers_only() -> None:
    k = Knowledge(trackers=TDS, surrogates={"lib.js": LIB})
    blocked = decide_request(req("px.ads.example", "news.example"), DNT, k, NOW)
    assert blocked.block
    assert blocked.strip_cookies
    assert blocked.surrogate is None
    assert "ads.example" in blocked.reason
    assert blocked.signals.dnt == ("1",)
    assert blocked.signals.gpc == ("1",)
    surrogate = decide_request(req("ads.example", "news.example", "/lib.js"), DNT, k, NOW)
    assert surrogate.block
    assert surrogate.surrogate is LIB
    same_entity = decide_request(req("ads.example", "ads-static.example"), DNT, k, NOW)
    assert not same_entity.block
    assert not same_entity.strip_cookies
    unknown_site = decide_request(req("ads.example", None), DNT, k, NOW)
    assert unknown_site.block


def test_an_ignore_tracker_loses_its_cookies_but_loads() -> None:
    d = decide_request(
        req("cdn-tracker.example", "news.example"), DNT, Knowledge(trackers=TDS), NOW
    )
    assert not d.block
    assert d.strip_cookies


def test_an_exception_lifts_blocking_for_its_pair() -> None:
    pref = DNT.allow("news.example", ["ads.example"], now=NOW)
    k = Knowledge(trackers=TDS)
    d = decide_request(req("ads.example", "news.example"), pref, k, NOW)
    assert d.state is PreferenceState.ALLOW
    assert not d.block
    assert d.signals.dnt == ("0",)
    assert decide_request(req("ads.example", "blog.example"), pref, k, NOW).block


def test_declared_compliance_spares_a_tracker_and_unknown_asks_for_a_check() -> None:
    cache = DeclarationCache()
    k = Knowledge(trackers=TDS, declarations=cache)
    first = decide_request(req("ads.example", "news.example"), DNT, k, NOW)
    assert first.block
    assert first.check_origin == "https://ads.example"
    cache.put(Declaration("https://ads.example", True, "gpc.json", NOW))
    later = decide_request(req("ads.example", "news.example"), DNT, k, NOW + 1)
    assert not later.block
    assert not later.strip_cookies
    assert later.check_origin is None
    # A stale declaration still counts while it is re-checked.
    stale = decide_request(req("ads.example", "news.example"), DNT, k, NOW + 10**6)
    assert not stale.block
    assert stale.check_origin == "https://ads.example"


def test_learned_trackers_are_blocked_as_third_parties() -> None:
    learner = TrackerLearner()
    for site in ("a.example", "b.example", "c.example"):
        learner.observe("spy.example", site)
    k = Knowledge(learner=learner)
    assert decide_request(req("x.spy.example", "news.example"), DNT, k, NOW).block
    assert not decide_request(req("x.spy.example", "spy.example"), DNT, k, NOW).block
    assert not decide_request(req("other.example", "news.example"), DNT, k, NOW).block
    assert learning_pair(req("x.spy.example", "www.news.example"), k) == (
        "spy.example",
        "news.example",
    )
    assert learning_pair(req("x.spy.example", None), k) is None
    assert learning_pair(req("a.spy.example", "b.spy.example"), k) is None


def test_mail_pixels_are_blocked_only_without_a_page_behind_them() -> None:
    k = Knowledge(mail_pixel=lambda url: "open pixel" if "/open" in url else None)
    mail = req("mail.example", "mail.example", "/open?id=1", type_="image", from_browser=False)
    assert decide_request(mail, DNT, k, NOW).block
    on_page = req(
        "mail.example",
        "news.example",
        "/open?id=1",
        type_="image",
        referrer="https://news.example/",
    )
    assert not decide_request(on_page, DNT, k, NOW).block
    assert not decide_request(mail, ALLOW, k, NOW).block


def test_parameters_and_referrers() -> None:
    k = Knowledge(trackers=TDS)
    nav = req(
        "shop.example",
        "shop.example",
        "/p?id=1&gclid=x",
        navigation=True,
        type_="main_frame",
        referrer="https://search.example/?q=secret",
    )
    d = decide_request(nav, DNT, k, NOW)
    assert d.path == "/p?id=1"
    assert d.referrer_changed
    assert d.referrer == "https://search.example/"
    sub = req(
        "api.shop.example", "shop.example", "/v?gclid=x", referrer="https://shop.example/cart?id=9"
    )
    d = decide_request(sub, DNT, k, NOW)
    assert d.path is None  # not a navigation
    assert not d.referrer_changed  # same site


def test_switches_unprotected_and_gpc_exceptions() -> None:
    p = Protections(
        unprotected=DomainSet(["broken.example"]), gpc_exceptions=DomainSet(["bank.example"])
    )
    k = Knowledge(trackers=TDS, protections=p)
    d = decide_request(req("ads.example", "broken.example"), DNT, k, NOW)
    assert d.signals.untouched
    assert not d.block
    assert d.reason == "unprotected site"
    d = decide_request(req("bank.example", "bank.example"), DNT, k, NOW)
    assert d.signals.dnt == ("1",)
    assert d.signals.gpc == ()
    d = decide_request(req("bank.example", "bank.example", gpc=("1",)), DNT, k, NOW)
    assert d.signals.gpc == ("1",)


def test_tracking_verdict_for_plain_sites_is_not_tracking() -> None:
    assert (
        tracking_verdict(req("news.example", "news.example"), Knowledge(trackers=TDS), NOW).block
        is False
    )
    assert tracking_verdict(req("a.example", "b.example"), Knowledge(), NOW).strip_cookies is False


hosts = st.sampled_from(
    ["ads.example", "x.ads.example", "cdn-tracker.example", "news.example", "ads-static.example"]
)


@given(
    hosts,
    st.none() | hosts,
    st.sampled_from(list(PreferenceState)),
    st.lists(st.sampled_from(["1", "0", "x"]), max_size=2),
)
def test_property_only_do_not_track_ever_blocks_and_gpc_1_survives(
    host: str, site: str | None, state: PreferenceState, gpc: list[str]
) -> None:
    d = decide_request(
        req(host, site, gpc=tuple(gpc)), UserPreference(state), Knowledge(trackers=TDS), NOW
    )
    if state is not PreferenceState.DO_NOT_TRACK:
        assert not d.block
        assert not d.strip_cookies
    if "1" in gpc:
        assert d.signals.gpc is None or d.signals.gpc == ("1",)
    if state is PreferenceState.UNSET:
        assert d.signals.untouched
