"""CNAME cloaking: the site's own names that lead to a known tracker."""

from __future__ import annotations

import asyncio
import socket
import time

import dns.asyncresolver
import dns.resolver
import pytest
from audit_dns import dns_server
from audit_fakes import request, visit
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.analysis import analyse_states
from trackpref.audit.cname import (
    MAX_CHAIN,
    DNSSetupError,
    check_resolver,
    cloaked_hosts,
    resolve_cname_chains,
)
from trackpref.audit.crawl import AuditSetupError, run_crawl
from trackpref.audit.declarations import SiteDeclarations
from trackpref.audit.observation import CookieRecord, Observation
from trackpref.audit.report import site_to_json
from trackpref.audit.runner import AuditConfig
from trackpref.audit.site import analyse_site
from trackpref.audit.site_parties import SiteParties
from trackpref.audit.states import SignalState
from trackpref.audit.verdicts import claims_contradicted, gpc_honored

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
    with dns_server({}) as address:
        closed = address  # used once the server is gone: nobody answers there any more
    chains = asyncio.run(resolve_cname_chains(["metrics.shop.example"], server=closed, timeout=0.3))
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


def test_the_pages_own_host_and_exempt_targets_are_never_cloaked() -> None:
    chains = {
        "www.shop.example": ("shop.platform.example",),  # the page, on a listed platform
        "img.shop.example": ("img.platform.example",),
        "m.shop.example": ("m.sister.example",),  # declared same-party
    }
    tracker = {"platform.example", "sister.example"}.__contains__
    found = cloaked_hosts(
        chains,
        "shop.example",
        lambda name: tracker(name.split(".", 1)[-1]) or tracker(name),
        pages={"www.shop.example"},
        exempt=lambda name: name.endswith("sister.example"),
    )
    assert dict(found) == {"img.shop.example": ("img.platform.example",)}


def test_a_server_that_never_answers_costs_the_total_bound_and_cloaks_nothing() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        chains = asyncio.run(
            resolve_cname_chains(
                [f"h{i}.shop.example" for i in range(5)],
                server=silent.getsockname(),
                timeout=0.2,
                total=0.5,
            )
        )
        assert chains == {}
        assert time.monotonic() - started < 2.0
    finally:
        silent.close()


def test_no_resolver_configuration_is_a_setup_error_before_any_visit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = dns.asyncresolver.Resolver

    def unconfigured(*args: object, configure: bool = True, **kwargs: object) -> object:
        if configure:  # what a missing or empty /etc/resolv.conf does
            raise dns.resolver.NoResolverConfiguration("no nameservers")
        return real(configure=False)

    monkeypatch.setattr(dns.asyncresolver, "Resolver", unconfigured)
    with pytest.raises(DNSSetupError, match="--dns-server"):
        check_resolver(None)
    check_resolver(("127.0.0.1", 53))  # a given server needs no configuration
    assert asyncio.run(resolve_cname_chains(["m.shop.example"])) == {}
    with pytest.raises(AuditSetupError, match="no DNS resolver"):
        asyncio.run(
            run_crawl(
                ["http://shop.example/"],
                store=None,  # type: ignore[arg-type]  # refused before the store is used
                config=AuditConfig(resolve_cnames=True),
            )
        )


def test_a_cloaked_hosts_tk_n_is_the_trackers_claim() -> None:
    uid = "7d1f9a3c5e2b4d6f8a0c"
    pixels = [
        request(f"https://m.shop.example/c?uid={uid}&e={e}", state=S1, response={"Tk": "N"})
        for e in (1, 2)
    ]
    visits = {S0: [visit(S0, PAGE)], S1: [visit(S1, PAGE, *pixels)]}
    parties = SiteParties.for_url(PAGE, cloaked={"m.shop.example": ("t.tracker.example",)})
    analysed = analyse_states(visits, parties)
    first = {s: r[0] for s, r in analysed.items()}
    verdict = claims_contradicted(SiteDeclarations(None), first, None, parties)
    assert verdict.value is True
    assert "tracker.example" in verdict.summary


def test_a_cookie_kept_on_a_cloaked_host_is_the_trackers_in_every_list() -> None:
    uid = "4b7e1d9c2a5f8e3b6d0a"
    cookie = CookieRecord("_m", uid, "metrics.shop.example")  # host-only, set by the tracker
    pixel = request(f"https://metrics.shop.example/c?uid={uid}", state=S1)
    visits = {
        S0: [visit(S0, PAGE)],
        S1: [visit(S1, PAGE, pixel, cookies=(cookie,))],
    }
    cloaked = {"metrics.shop.example": ("t.tracker.example",)}
    audit = analyse_site(
        PAGE, visits, SiteDeclarations(None), audited_at="2026-11-23", cloaked=cloaked
    )
    [kept] = audit.states[S1].identifiers.cookies
    assert (kept.site, kept.third_party) == ("tracker.example", True)
    [listed] = site_to_json(audit)["states"][S1.value]["cookies"]
    assert (listed["third_party"], listed["identifier"]) == (True, True)
