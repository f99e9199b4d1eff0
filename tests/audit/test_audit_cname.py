"""CNAME cloaking: the site's own names that lead to a known tracker."""

from __future__ import annotations

import asyncio

from audit_dns import dns_server
from audit_fakes import request, visit
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.analysis import analyse_states
from trackpref.audit.cname import MAX_CHAIN, cloaked_hosts, resolve_cname_chains
from trackpref.audit.observation import Observation
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState
from trackpref.audit.verdicts import gpc_honored

PAGE = "https://shop.example/"
TRACKERS = {"tracker.example"}
S0, S1 = SignalState.NO_SIGNAL, SignalState.DNT1_GPC


def is_tracker(name: str) -> bool:
    return name in TRACKERS or any(name.endswith("." + t) for t in TRACKERS)


def test_only_chains_that_reach_a_known_tracker_cloak() -> None:
    chains = {
        "metrics.shop.example": ("shop.tracker.example",),
        # A CDN: how sites are served, not tracking.
        "www.shop.example": ("shop.example.cdn.example", "edge.cdn.example"),
        # The tracker behind a CDN hop: the chain is cut at the tracker's name.
        "stats.shop.example": ("x.cdn.example", "c.tracker.example", "edge.cdn.example"),
        # Another site's host is that site's business.
        "metrics.other.example": ("shop.tracker.example",),
    }
    found = cloaked_hosts(chains, "shop.example", is_tracker)
    assert dict(found) == {
        "metrics.shop.example": ("shop.tracker.example",),
        "stats.shop.example": ("x.cdn.example", "c.tracker.example"),
    }


def test_a_chain_within_the_site_is_no_cloak() -> None:
    assert not cloaked_hosts({"a.shop.example": ("b.shop.example",)}, "shop.example", is_tracker)


def test_chains_are_read_from_dns_and_end_on_loops_and_unknown_names() -> None:
    records = {
        "metrics.shop.example": "shop.tracker.example",
        "www.shop.example": "shop.example.cdn.example",
        "shop.example.cdn.example": "edge.cdn.example",
        "a.shop.example": "b.shop.example",
        "b.shop.example": "a.shop.example",
    }
    long = {f"l{i}.shop.example": f"l{i + 1}.shop.example" for i in range(20)}
    hosts = [*records, "nowhere.shop.example", "l0.shop.example"]
    with dns_server({**records, **long}) as server:
        chains = asyncio.run(resolve_cname_chains(hosts, server=server, timeout=2.0))
    assert chains["metrics.shop.example"] == ("shop.tracker.example",)
    assert chains["www.shop.example"] == ("shop.example.cdn.example", "edge.cdn.example")
    assert chains["a.shop.example"] == ("b.shop.example",), "a loop ends where it closes"
    assert len(chains["l0.shop.example"]) == MAX_CHAIN
    assert "nowhere.shop.example" not in chains


def test_an_unreachable_dns_server_cloaks_nothing() -> None:
    with dns_server({}) as (host, port):
        pass  # closed: nobody answers on that port any more
    chains = asyncio.run(
        resolve_cname_chains(["metrics.shop.example"], server=(host, port), timeout=0.3)
    )
    assert chains == {}


def test_a_cloaked_host_is_the_tracker_a_third_party() -> None:
    cloaked = {"metrics.shop.example": ("shop.tracker.example",)}
    parties = SiteParties.for_url(PAGE, cloaked=cloaked)
    assert parties.is_third_party("metrics.shop.example")
    assert parties.recipient("metrics.shop.example") == "tracker.example"
    assert not parties.is_third_party("www.shop.example")
    assert parties.recipient("www.shop.example") == "shop.example"


def tracked_through(host: str, uid: str) -> dict[SignalState, list[Observation]]:
    pixels = [
        request(f"https://{host}/collect?uid={uid}&ev={ev}", state=S1) for ev in ("view", "scroll")
    ]
    return {S0: [visit(S0, PAGE)], S1: [visit(S1, PAGE, *pixels)]}


def test_identifiers_sent_to_a_cloaked_host_break_gpc() -> None:
    visits = tracked_through("metrics.shop.example", "7d1f9a3c5e2b4d6f8a0c")
    plain = analyse_states(visits, SiteParties.for_url(PAGE))
    assert gpc_honored({s: r[0] for s, r in plain.items()}).value is True
    parties = SiteParties.for_url(PAGE, cloaked={"metrics.shop.example": ("t.tracker.example",)})
    cloaked = analyse_states(visits, parties)
    verdict = gpc_honored({s: r[0] for s, r in cloaked.items()}, parties=parties)
    assert verdict.value is False
    assert {f.recipient for f in cloaked[S1][0].identifiers.flows} == {"tracker.example"}
    [note] = [e for e in verdict.evidence if e.kind == "cname"]
    assert "metrics.shop.example is a CNAME to t.tracker.example" in note.detail
    assert note.party == "tracker.example"


@given(
    chain=st.lists(
        st.sampled_from(
            [
                "a.cdn.example",
                "b.cdn.example",
                "x.tracker.example",
                "b.shop.example",
                "w.web.example",
            ]
        ),
        min_size=1,
        max_size=MAX_CHAIN,
    )
)
def test_property_a_host_is_cloaked_exactly_when_its_chain_meets_a_tracker(
    chain: list[str],
) -> None:
    found = cloaked_hosts({"m.shop.example": tuple(chain)}, "shop.example", is_tracker)
    if "x.tracker.example" in chain:
        cut = chain.index("x.tracker.example") + 1
        assert found == {"m.shop.example": tuple(chain[:cut])}
    else:
        assert not found
