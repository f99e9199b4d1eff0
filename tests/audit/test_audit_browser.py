"""The auditor in Debian's Chromium against the fixture web: every verdict.

One crawl of the whole fixture web runs once per session (two browsers, short
settle waits) and the tests read its report.json, so they check the verdicts
and the documented report at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from audit_dns import dns_server
from audit_web import FixtureWeb
from playwright.async_api import async_playwright

from trackpref.audit.browser_options import BrowserOptions
from trackpref.audit.crawl import run_crawl, write_reports
from trackpref.audit.driver import BrowserDriver
from trackpref.audit.runner import AuditConfig
from trackpref.audit.states import ALL_STATES, DEFAULT_STATES, SignalState
from trackpref.audit.store import ResultStore
from trackpref.audit.trackers import TrackerKnowledge

pytestmark = pytest.mark.browser

GOOD = ("honor", "partial", "liar", "broken", "hostile", "wrongtypes", "clean")


def config(web: FixtureWeb, chromium: str, **browser: Any) -> AuditConfig:
    options = {
        "executable": chromium,
        "host_rules": web.rules,
        "settle": 0.3,
        "page_timeout": 2.5,
        "read_timeout": 2.0,
        "max_page_bytes": 1024 * 1024,
        **browser,
    }
    return AuditConfig(
        retries=0, browser=BrowserOptions(**options), dnt_policy_hashes=web.policy_hashes
    )


@pytest.fixture(scope="module")
def report(
    fixture_web: FixtureWeb, chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    web = fixture_web
    urls = [web.url(name) for name in GOOD]
    urls.insert(1, web.url("ignore", "/search?q=secret+shoes"))
    urls += [
        web.url("slow"),
        web.url("loop"),
        web.url("huge"),
        f"https://tls.test:{web.tls_port}/",
        f"http://closed.test:{web.closed_port}/",
        web.url("nowhere"),
        "not a url",
    ]
    out = tmp_path_factory.mktemp("fixture-audit")
    document = crawl_report(out, urls, config(web, chromium), concurrency=2)
    document["_out"] = str(out)
    return document


def crawl_report(
    out: Path,
    urls: list[str],
    cfg: AuditConfig,
    *,
    concurrency: int = 1,
    knowledge: TrackerKnowledge | None = None,
) -> dict[str, Any]:
    """Crawl ``urls`` into ``out`` and return its report.json."""
    with ResultStore(out / "audit.sqlite") as store:
        result = asyncio.run(
            run_crawl(
                urls,
                store=store,
                config=cfg,
                concurrency=concurrency,
                base_knowledge=knowledge or TrackerKnowledge(threshold=3),
            )
        )
        write_reports(
            out, store, result.crawl.id, knowledge=result.knowledge, states=DEFAULT_STATES
        )
    document: dict[str, Any] = json.loads((out / "report.json").read_text())
    return document


def site(report: dict[str, Any], host: str) -> dict[str, Any]:
    return next(s for s in report["sites"] if f"//{host}.test:" in s["url"] or s["url"] == host)


def verdicts(report: dict[str, Any], host: str) -> tuple[object, ...]:
    v = site(report, host)["verdicts"]
    return (v["gpc_honored"], v["dnt_honored"], v["declarations_valid"], v["claims_contradicted"])


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("honor", (True, True, True, False)),
        ("ignore", (False, False, None, True)),
        ("partial", (False, False, True, True)),
        ("liar", (False, False, True, True)),
        ("broken", (True, True, False, False)),
        ("hostile", (True, True, False, None)),
        ("wrongtypes", (True, True, False, None)),
        ("clean", (True, True, True, False)),
    ],
)
def test_verdicts(report: dict[str, Any], host: str, expected: tuple[object, ...]) -> None:
    assert verdicts(report, host) == expected, site(report, host)["verdicts"]["summary"]
    assert site(report, host)["error"] is None


def test_honoring_site_in_detail(report: dict[str, Any]) -> None:
    honor = site(report, "honor")
    states = honor["states"]
    assert list(states) == ["no-signal", "dnt1-gpc", "dnt0"]
    for state in states.values():
        assert state["signal"]["verified"] is True
    assert states["no-signal"]["summary"]["third_party_identifiers"] > 0
    assert states["dnt1-gpc"]["summary"]["third_party_requests"] == 0
    # The CMP read navigator.globalPrivacyControl (the init script) and opted out.
    assert states["dnt1-gpc"]["consent"]["usp"] == {"raw": "1YYN", "opted_out": True}
    assert states["dnt1-gpc"]["consent"]["gpp"]["gpc"] is True
    assert states["no-signal"]["consent"]["gpp"]["gpc"] is False
    assert honor["declarations"]["tsr"]["depends_on_dnt"] is True
    assert honor["verdicts"]["compliant"] is True
    # The publisher id is in every visit: a constant, not an identifier.
    values = {i["value"] for i in states["no-signal"]["identifiers"]}
    assert not any("PUB7f3a9c2e1b0d44" in v for v in values)
    assert states["no-signal"]["identifier_constants_ignored"] >= 1


def test_ignoring_site_in_detail(report: dict[str, Any]) -> None:
    ignore = site(report, "ignore")
    gpc_state = ignore["states"]["dnt1-gpc"]
    recipients = {i["recipient"] for i in gpc_state["identifiers"]}
    assert recipients == {"tracker.test", "ads.test", "sync.test"}
    uid = next(i for i in gpc_state["identifiers"] if "query:uid" in i["via"])
    assert uid["owner"] == "ignore.test"  # kept in first-party storage, shared by the page
    assert uid["requests"] == 2
    assert [(c["source"], c["target"]) for c in gpc_state["cookie_syncs"]] == [
        ("ads.test", "sync.test")
    ]
    leaks = {leak["recipient"]: leak for leak in gpc_state["referrer_leaks"]}
    assert leaks["tracker.test"]["query_terms"] == ["q=secret shoes"]
    assert leaks["tracker.test"]["severity"] == "query"
    assert "partners' (tracker.test)" in ignore["verdicts"]["summary"]["claims_contradicted"]
    assert "site's own" not in ignore["verdicts"]["summary"]["claims_contradicted"]
    storage = [s for s in gpc_state["storage"] if s["key"] == "_trk_uid"]
    assert storage
    assert storage[0]["identifier"] is True
    opt_out = gpc_state["consent"]["opt_out_problems"]
    assert any("1YNN" in p for p in opt_out)


def test_partly_honoring_site(report: dict[str, Any]) -> None:
    partial = site(report, "partial")
    assert "partly honored" in partial["verdicts"]["summary"]["gpc_honored"]
    gpc_state = partial["states"]["dnt1-gpc"]
    assert {p["site"] for p in gpc_state["third_parties"]} == {"tracker.test"}


def test_claim_but_violate(report: dict[str, Any]) -> None:
    liar = site(report, "liar")
    evidence = liar["verdicts"]["evidence"]["claims_contradicted"]
    contradictions = [e["detail"] for e in evidence if e["kind"] == "contradiction"]
    assert any("gpc: true" in d for d in contradictions)
    assert any("tracking N" in d for d in contradictions)
    assert any("Tk: N" in d for d in contradictions)
    # The fixture serves over plain HTTP, where the EFF policy claims nothing
    # (checklist 47: per host, HTTPS only); test_audit_verdicts holds the claim
    # to the behaviour over HTTPS.
    policy = liar["declarations"]["dnt_policy"]
    assert policy["compliant"] is False
    assert any("plain HTTP" in p for p in policy["problems"])
    assert not any("EFF DNT policy" in d for d in contradictions)


def test_malformed_declarations(report: dict[str, Any]) -> None:
    broken = site(report, "broken")
    decl = broken["declarations"]
    assert decl["gpc"]["gpc"] is None
    assert any("text/plain" in p for p in decl["gpc"]["problems"])
    assert any('"true"' in p for p in decl["gpc"]["problems"])
    assert any("must not set cookies" in p for p in decl["tsr"]["problems"])
    hostile = site(report, "hostile")["declarations"]
    assert any("not JSON" in p for p in hostile["tsr"]["problems"])
    assert "larger than" in hostile["gpc"]["problems"][0]


def test_trackers_learned_across_sites(report: dict[str, Any]) -> None:
    learned = {t["domain"]: t for t in report["trackers"]}
    assert {"tracker.test", "ads.test", "sync.test"} <= set(learned)
    assert len(learned["tracker.test"]["sites"]) >= 3
    assert learned["tracker.test"]["source"] == "learned"
    party = site(report, "liar")["states"]["no-signal"]["third_parties"]
    assert all(p["tracker"] for p in party)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("slow", "timeout"),
        ("loop", "redirect-loop"),
        ("huge", "too-large"),
        ("tls", "tls"),
        ("closed", "unreachable"),
        ("nowhere", "unreachable"),
        ("not a url", "invalid-url"),
    ],
)
def test_bad_sites_are_clear_per_site_errors(report: dict[str, Any], host: str, kind: str) -> None:
    bad = site(report, host)
    assert bad["error"]["kind"] == kind, bad["error"]
    assert bad["error"]["message"]
    assert bad["verdicts"]["gpc_honored"] is None
    assert bad["verdicts"]["dnt_honored"] is None


def test_the_crawl_went_on(report: dict[str, Any]) -> None:
    assert report["crawl"]["complete"] is True
    assert report["crawl"]["audited"] == report["crawl"]["total"] == len(report["sites"])
    html = (Path(report["_out"]) / "report.html").read_text()
    for s in report["sites"]:
        assert s["url"].split("?")[0] in html


def test_page_scripts_see_the_signal_of_each_state(fixture_web: FixtureWeb, chromium: str) -> None:
    options = config(fixture_web, chromium).browser

    async def go() -> dict[SignalState, dict[str, list[str]]]:
        async with async_playwright() as playwright:
            driver = await BrowserDriver.launch(playwright, options)
            try:
                seen = {}
                for state in ALL_STATES:
                    obs = await driver.visit(fixture_web.url("probe"), state)
                    probe = next(r for r in obs.requests if "/seen?" in r.url)
                    seen[state] = parse_qs(urlsplit(probe.url).query)
                return seen
            finally:
                await driver.close()

    seen = asyncio.run(go())
    assert seen[SignalState.NO_SIGNAL] == {"dnt": ["null"], "gpc": ["undefined"]}
    assert seen[SignalState.DNT1_GPC] == {"dnt": ["1"], "gpc": ["true"]}
    assert seen[SignalState.DNT0] == {"dnt": ["0"], "gpc": ["false"]}
    assert seen[SignalState.DNT1] == {"dnt": ["1"], "gpc": ["false"]}
    assert seen[SignalState.GPC] == {"dnt": ["null"], "gpc": ["true"]}


def test_a_page_that_hangs_after_load_says_what_was_not_read(
    fixture_web: FixtureWeb, chromium: str
) -> None:
    options = config(fixture_web, chromium, read_timeout=1.0).browser

    async def go() -> Any:
        async with async_playwright() as playwright:
            driver = await BrowserDriver.launch(playwright, options)
            try:
                return await driver.visit(fixture_web.url("hang"), SignalState.DNT1_GPC)
            finally:
                await driver.close()

    obs = asyncio.run(go())
    assert obs.failure is None
    assert obs.storage == ()
    assert "storage" in obs.unread
    assert "consent" in obs.unread


def test_a_page_that_patches_its_storage_apis_cannot_hide_what_it_keeps(
    fixture_web: FixtureWeb, chromium: str
) -> None:
    """The storage is read in an isolated world: the page's getItem, key,
    indexedDB.open, Date.now and setTimeout, all patched to lie or stall, are
    not the ones the auditor calls."""
    options = config(fixture_web, chromium).browser

    async def go() -> Any:
        async with async_playwright() as playwright:
            driver = await BrowserDriver.launch(playwright, options)
            try:
                return await driver.visit(fixture_web.url("masked"), SignalState.DNT1_GPC)
            finally:
                await driver.close()

    obs = asyncio.run(go())
    found = {(s.kind, s.key): s.value for s in obs.storage}
    assert found.get(("local", "_uid")) == "f00dcafe0123456789abcdef"
    assert ("local", "theme") not in found
    assert found.get(("indexeddb", "masked/ids/me")) == "beefcafe9876543210fedcba"
    assert obs.unread == ()


def test_a_page_that_navigates_while_it_is_read_is_never_read_in_its_own_world(
    fixture_web: FixtureWeb, chromium: str
) -> None:
    """A world ends with its document: a page reloading itself every few
    milliseconds gets a new world per document, and what cannot be read there
    is unread, never read where the page's patched getItem and key answer."""
    options = config(fixture_web, chromium, settle=0.0).browser

    async def go() -> list[Any]:
        async with async_playwright() as playwright:
            driver = await BrowserDriver.launch(playwright, options)
            try:
                return [
                    await driver.visit(fixture_web.url("flitting"), SignalState.NO_SIGNAL)
                    for _ in range(6)
                ]
            finally:
                await driver.close()

    for obs in asyncio.run(go()):
        local = {s.key: s.value for s in obs.storage if s.kind == "local"}
        assert "theme" not in local, "read where the page's patches answer"
        assert local.get("_uid", "f00dcafe0123456789abcdef") == "f00dcafe0123456789abcdef"
        assert local or "storage" in obs.unread


def test_identifiers_kept_in_indexeddb_and_the_cache_api_are_read(
    fixture_web: FixtureWeb, chromium: str
) -> None:
    options = config(fixture_web, chromium).browser
    secure = f"http://127.0.0.1:{fixture_web.port}/vault"  # loopback: a secure context

    async def go() -> list[Any]:
        async with async_playwright() as playwright:
            driver = await BrowserDriver.launch(playwright, options)
            try:
                return [
                    await driver.visit(url, SignalState.DNT1_GPC)
                    for url in (secure, fixture_web.url("vault"))
                ]
            finally:
                await driver.close()

    on_loopback, on_http = asyncio.run(go())
    found = {(s.kind, s.key): s.value for s in on_loopback.storage}
    uid = found[("indexeddb", "trk/ids/me.id")]
    assert len(uid) == 32
    assert found[("indexeddb", "trk/ids/me.kind")] == "visitor"
    # Nested three levels down, an id is still a whole value of its own.
    assert found[("indexeddb", "trk/ids/deep.meta.ids[0].uid")] == uid[::-1]
    # A cached body is read item by item: a form body per pair, JSON per member.
    cached = {k: v for (kind, k), v in found.items() if kind == "cache"}
    cid = cached.get(f"trk-v1 {secure}/profile #cid", "")
    assert len(cid) == 32
    assert cid != uid
    # The URL a response is cached under is read parameter by parameter.
    vid = cached.get(f"trk-v1 {secure}/px ?vid", "")
    assert len(vid) == 32
    assert vid not in (uid, cid)
    assert cached == {
        f"trk-v1 {secure}/state #uid": uid,
        f"trk-v1 {secure}/state #v": "1",
        f"trk-v1 {secure}/profile #cid": cid,
        f"trk-v1 {secure}/profile #n": "3",
        f"trk-v1 {secure}/px?vid={vid}&w=1": "ok",
        f"trk-v1 {secure}/px ?vid": vid,
        f"trk-v1 {secure}/px ?w": "1",
    }
    assert not any(uid in r.url for r in on_loopback.requests), "the id was never sent"
    assert sum(cid in r.url for r in on_loopback.requests) == 1
    # Plain HTTP on a name is no secure context: IndexedDB only.
    kinds = {s.kind for s in on_http.storage}
    assert kinds == {"indexeddb"}


@pytest.fixture(scope="module")
def vault_report(
    fixture_web: FixtureWeb, chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The report of a crawl of the vault page in a secure context."""
    out = tmp_path_factory.mktemp("vault-audit")
    url = f"http://127.0.0.1:{fixture_web.port}/vault"
    [entry] = crawl_report(out, [url], config(fixture_web, chromium))["sites"]
    return dict(entry)


def test_a_deep_store_id_counts_as_an_identifier_in_the_report(
    vault_report: dict[str, Any],
) -> None:
    for state in vault_report["states"].values():
        marked = {(s["kind"], s["identifier"]) for s in state["storage"] if "trk" in s["key"]}
        assert ("indexeddb", True) in marked
        assert ("cache", True) in marked


@pytest.mark.parametrize(
    ("stored_under", "sent_as"),
    [
        ("/profile #cid", "query:c"),  # a member of a cached JSON body
        ("/px ?vid", "query:v"),  # a parameter of the URL a response is cached under
    ],
)
def test_an_id_kept_only_in_the_cache_api_and_sent_once_is_an_identifier_flow(
    vault_report: dict[str, Any], stored_under: str, sent_as: str
) -> None:
    gpc_state = vault_report["states"]["dnt1-gpc"]
    [value] = [s["value"] for s in gpc_state["storage"] if s["key"].endswith(stored_under)]
    [flow] = [i for i in gpc_state["identifiers"] if i["value"] == value]
    assert flow["recipient"] == "tracker.test"
    assert flow["via"] == [sent_as]
    assert flow["requests"] == 1  # so it counts only because it is stored
    assert flow["owner"] is not None


def test_a_large_indexeddb_costs_neither_web_storage_nor_the_consent_strings(
    fixture_web: FixtureWeb, chromium: str
) -> None:
    """200 records of about 600 KB: read whole and serialized in one go, they
    took longer than the read timeout, and web storage and the consent strings
    were lost with them."""
    options = config(fixture_web, chromium, read_timeout=1.0, page_timeout=10.0).browser

    async def go() -> tuple[Any, float]:
        async with async_playwright() as playwright:
            driver = await BrowserDriver.launch(playwright, options)
            try:
                started = time.monotonic()
                obs = await driver.visit(fixture_web.url("bigdb"), SignalState.DNT1_GPC)
                return obs, time.monotonic() - started
            finally:
                await driver.close()

    obs, seconds = asyncio.run(go())
    assert obs.failure is None
    assert "storage" not in obs.unread
    assert "consent" not in obs.unread
    found = {(s.kind, s.key): s.value for s in obs.storage}
    assert found[("local", "bigdb")] == "full", "web storage was read after the database was full"
    assert obs.consent.usp_api == "1YYN"
    deep = [s for s in obs.storage if s.kind == "indexeddb"]
    assert 0 < len(deep) <= 200
    assert all(len(s.value) <= 512 for s in deep)
    assert deep[0].key.startswith("big/blobs/0.data[")  # each value an item of its own
    # Load and settle, then at most a read timeout for web storage and half
    # of one for the deep read.
    assert seconds < 8, seconds


def test_a_tracker_behind_the_sites_own_name_is_found_with_resolve_cnames(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    """CNAME cloaking: metrics.cloak.test is a CNAME to a tracker, so the id it
    gets under GPC reaches a third party, though every name is the site's own."""
    knowledge = TrackerKnowledge(tds_trackers=frozenset({"tracker.test"}), threshold=3)

    def audit(out: Path, **options: Any) -> dict[str, Any]:
        cfg = dataclasses.replace(config(fixture_web, chromium), **options)
        [entry] = crawl_report(out, [fixture_web.url("cloak")], cfg, knowledge=knowledge)["sites"]
        return dict(entry)

    (tmp_path / "plain").mkdir()
    plain = audit(tmp_path / "plain")
    assert plain["verdicts"]["gpc_honored"] is True, "all first party by name"
    assert plain["cname_cloaked"] == []
    with dns_server({"metrics.cloak.test": "cl.tracker.test"}) as server:
        (tmp_path / "dns").mkdir()
        found = audit(tmp_path / "dns", resolve_cnames=True, dns_server=server)
    assert found["cname_cloaked"] == [
        {"host": "metrics.cloak.test", "chain": ["cl.tracker.test"], "party": "tracker.test"}
    ]
    assert found["verdicts"]["gpc_honored"] is False
    assert any(e["kind"] == "cname" for e in found["verdicts"]["evidence"]["gpc_honored"])
    recipients = {i["recipient"] for i in found["states"]["dnt1-gpc"]["identifiers"]}
    assert recipients == {"tracker.test"}


def test_repeated_tk_headers_are_judged_not_fetched_as_one_status_id(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    """Chromium joins repeated headers with a newline; that is no status-id to fetch."""
    report = crawl_report(tmp_path, [fixture_web.url("twotk")], config(fixture_web, chromium))
    found = site(report, "twotk")
    assert found.get("error") is None, found.get("error")
    assert report["crawl"]["complete"] is True
