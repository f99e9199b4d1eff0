"""A real ``trackpref proxy`` on loopback, driven by curl and headless Chromium.

The capture server answers for every ``*.test`` host and records what reached
it, so each test asserts exactly which ``DNT`` / ``Sec-GPC`` fields arrived and
that blocked trackers never arrived at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from capture_server import Capture, CaptureServers, Seen, capture_servers
from proxy_process import ProxyProcess, running_proxy, wait_until

from trackpref.agent.preference_file import UserPreference, save_preference
from trackpref.signals.preference import PreferenceState

pytestmark = pytest.mark.slow

UNSET = UserPreference()
DO_NOT_TRACK = UserPreference(PreferenceState.DO_NOT_TRACK)
ALLOW = UserPreference(PreferenceState.ALLOW)

#: (DNT values, Sec-GPC values) that must arrive, per general state.
EXPECTED = {
    PreferenceState.UNSET: ([], []),
    PreferenceState.DO_NOT_TRACK: (["1"], ["1"]),
    PreferenceState.ALLOW: (["0"], []),
}

TDS = {
    "trackers": {
        "tracker.test": {"domain": "tracker.test", "default": "block", "owner": {"name": "T"}},
        "honest.test": {"domain": "honest.test", "default": "block", "owner": {"name": "H"}},
        "cookies.test": {"domain": "cookies.test", "default": "ignore", "owner": {"name": "C"}},
    },
    "entities": {},
    "domains": {},
}


@dataclass
class Env:
    servers: CaptureServers
    proxy: ProxyProcess
    preference: Path

    @property
    def capture(self) -> Capture:
        return self.servers.capture

    def base(self, host: str, scheme: str = "http") -> str:
        port = self.servers.http_port if scheme == "http" else self.servers.https_port
        return f"{scheme}://{host}:{port}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    assert shutil.which("curl"), "the end-to-end tests drive curl"
    directory = tmp_path_factory.mktemp("proxy")
    preference = directory / "preference.json"
    tds = directory / "tds.json"
    tds.write_text(json.dumps(TDS))
    save_preference(UNSET, preference)
    with (
        capture_servers(directory) as servers,
        running_proxy(directory, preference, "--trackers", str(tds)) as proxy,
    ):
        yield Env(servers, proxy, preference)


def curl(env: Env, url: str, *headers: str, dump_headers: bool = False) -> tuple[int, str]:
    cmd = ["curl", "-s", "--max-time", "20", "-x", env.proxy.url, "-w", "\n%{http_code}"]
    if url.startswith("https:"):
        cmd += ["--cacert", str(env.proxy.ca)]
    if dump_headers:
        cmd += ["-D", "-"]
    for header in headers:
        cmd += ["-H", header]
    done = subprocess.run(
        [*cmd, url], capture_output=True, text=True, errors="replace", timeout=30, check=False
    )
    body, _, code = done.stdout.rpartition("\n")
    assert code.isdigit(), done.stderr + "".join(env.proxy.output[-20:])
    assert code != "000", done.stderr + "".join(env.proxy.output[-20:])
    return int(code), body


def signals(seen: Seen) -> tuple[list[str], list[str]]:
    return seen.values("dnt"), seen.values("sec-gpc")


def switch_to_exception(env: Env, on_site: str) -> None:
    """do-not-track with an exception for [site.test, api.test], applied.

    Going through plain do-not-track first makes the probe unambiguous: only
    the exception can then turn the probe's DNT into 0.
    """
    dnt = EXPECTED[PreferenceState.DO_NOT_TRACK]
    switch(env, DO_NOT_TRACK, env.base("api.test") + "/probe", dnt, on_site)
    excepted = DO_NOT_TRACK.allow("site.test", ["api.test"], now=0)
    switch(env, excepted, env.base("api.test") + "/probe", (["0"], []), on_site)


def switch(
    env: Env, pref: UserPreference, probe: str, expected: tuple[list[str], list[str]], *headers: str
) -> None:
    """Write the preference file and wait until the running proxy applies it."""
    save_preference(pref, env.preference)

    def applied() -> bool:
        env.capture.clear()
        curl(env, probe, *headers)
        got = env.capture.requests
        return len(got) == 1 and signals(got[0]) == expected

    assert wait_until(applied, timeout=15, interval=0.2), f"proxy never applied {pref.state}"
    env.capture.clear()


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("pref", [UNSET, DO_NOT_TRACK, ALLOW], ids=lambda p: p.state.value)
def test_curl_requests_carry_exactly_the_preference(
    env: Env, scheme: str, pref: UserPreference
) -> None:
    expected = EXPECTED[pref.state]
    switch(env, pref, env.base("probe.test") + "/probe", expected)
    status, body = curl(env, env.base("site.test", scheme) + "/hello")
    assert status == 200
    reached = env.capture.to("site.test")
    assert len(reached) == 1
    assert reached[0].scheme == scheme
    assert signals(reached[0]) == expected
    assert json.loads(body)["host"] == "site.test"


def test_app_signals_pass_untouched_while_unset_and_gpc_is_never_stripped(env: Env) -> None:
    switch(env, UNSET, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.UNSET])
    curl(env, env.base("site.test") + "/own", "DNT: 1", "Sec-GPC: 1")
    assert signals(env.capture.to("site.test")[0]) == (["1"], ["1"])

    switch(env, ALLOW, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.ALLOW])
    env.capture.clear()
    curl(env, env.base("site.test") + "/own", "DNT: 1", "Sec-GPC: 1")
    # The person's file decides DNT; an app's Sec-GPC: 1 is never removed (GPC §3.2).
    assert signals(env.capture.to("site.test")[0]) == (["0"], ["1"])


def test_an_exception_sends_dnt_0_for_the_excepted_pair_only(env: Env) -> None:
    on_site = f"Referer: {env.base('site.test')}/article?id=7"
    switch_to_exception(env, on_site)

    curl(env, env.base("api.test") + "/v1", on_site)
    curl(env, env.base("api.test") + "/v1", f"Referer: {env.base('other.test')}/news/1?q=x")
    curl(env, env.base("site.test") + "/v1")
    curl(env, env.base("api.test", "https") + "/v1", on_site)
    api = env.capture.to("api.test")
    assert [signals(r) for r in api] == [(["0"], []), (["1"], ["1"]), (["0"], [])]
    assert [signals(r) for r in env.capture.to("site.test")] == [(["1"], ["1"])]
    # The excepted pair is the person's "allow": its referrer is left alone; the
    # referrer to the other pair is trimmed to the origin.
    assert api[0].values("referer") == [env.base("site.test") + "/article?id=7"]
    assert api[1].values("referer") == [env.base("other.test") + "/"]


def test_blocked_trackers_never_reach_the_capture_server(env: Env) -> None:
    switch(
        env, DO_NOT_TRACK, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.DO_NOT_TRACK]
    )
    on_site = f"Referer: {env.base('site.test')}/"
    for scheme in ("http", "https"):
        status, _ = curl(env, env.base("tracker.test", scheme) + "/pixel.gif?uid=abc", on_site)
        assert status == 204
        status, _ = curl(env, env.base("sub.tracker.test", scheme) + "/t.js", on_site)
        assert status == 204
    # A mail client fetching an open pixel (no page behind it) is blocked too.
    status, _ = curl(
        env,
        env.base("news.test") + "/track/open.php?u=8f2a9c41d3e07b6a&id=5c1e7d",
        "Accept: image/*",
    )
    assert status == 204
    assert env.capture.to("tracker.test") == []
    assert env.capture.to("sub.tracker.test") == []
    assert env.capture.to("news.test") == []

    # The same request is the person's business while they chose nothing.
    switch(env, UNSET, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.UNSET])
    status, _ = curl(env, env.base("tracker.test") + "/pixel.gif?uid=abc", on_site)
    assert status == 200
    assert len(env.capture.to("tracker.test")) == 1


def test_a_listed_tracker_that_is_not_blocked_loses_its_cookies(env: Env) -> None:
    switch(
        env, DO_NOT_TRACK, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.DO_NOT_TRACK]
    )
    status, text = curl(
        env,
        env.base("cookies.test") + "/set-id",
        f"Referer: {env.base('site.test')}/",
        "Cookie: uid=4f9a2c7e1b3d5a60",
        dump_headers=True,
    )
    assert status == 200
    assert "set-cookie" not in text.lower()
    (seen,) = env.capture.to("cookies.test")
    assert seen.values("cookie") == []
    assert signals(seen) == (["1"], ["1"])


def test_a_tracker_that_declares_compliance_is_let_through(env: Env) -> None:
    switch(
        env, DO_NOT_TRACK, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.DO_NOT_TRACK]
    )
    on_site = f"Referer: {env.base('site.test')}/"
    # Undeclared until the background check has read honest.test's gpc.json.
    assert wait_until(
        lambda: curl(env, env.base("honest.test") + "/collect", on_site)[0] == 200, timeout=20
    )
    checks = env.capture.to("honest.test", well_known=True)
    assert any(r.path == "/.well-known/gpc.json" for r in checks)
    # The check went to the origin directly, not through the proxy.
    assert all(
        r.values("referer") == [] and r.values("user-agent") == ["trackpref"] for r in checks
    )
    collected = env.capture.to("honest.test")
    assert collected
    assert signals(collected[-1]) == (["1"], ["1"])


def test_a_third_party_seen_with_identifiers_on_three_sites_is_learned(env: Env) -> None:
    switch(
        env, DO_NOT_TRACK, env.base("probe.test") + "/probe", EXPECTED[PreferenceState.DO_NOT_TRACK]
    )
    for site in ("one.test", "two.test", "three.test"):
        status, _ = curl(env, env.base("learnme.test") + "/set-id", f"Referer: {env.base(site)}/")
        assert status == 200
    assert len(env.capture.to("learnme.test")) == 3
    status, _ = curl(
        env, env.base("learnme.test") + "/set-id", f"Referer: {env.base('four.test')}/"
    )
    assert status == 204
    assert len(env.capture.to("learnme.test")) == 3
    # First-party use of the same site is not blocked.
    status, _ = curl(env, env.base("learnme.test") + "/home")
    assert status == 200


# -- headless Chromium ------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_chromium_through_the_proxy(env: Env, scheme: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is required"
    args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    tracker = env.base("tracker.test", scheme) + "/pixel.gif"
    widget = env.base("api.test", scheme) + "/pixel.gif"
    page_url = env.base("site.test", scheme) + f"/page?embed={tracker}&embed={widget}"

    def load() -> tuple[list[Seen], list[Seen], list[Seen]]:
        env.capture.clear()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=args, proxy={"server": env.proxy.url}
            )
            try:
                context = browser.new_context(ignore_https_errors=True)
                page = context.new_page()
                page.goto(page_url, wait_until="load")
                page.wait_for_load_state("networkidle")
            finally:
                browser.close()
        pages = [r for r in env.capture.to("site.test") if r.path.startswith("/page")]
        return pages, env.capture.to("tracker.test"), env.capture.to("api.test")

    for pref in (UNSET, DO_NOT_TRACK, ALLOW):
        switch(env, pref, env.base("probe.test") + "/probe", EXPECTED[pref.state])
        pages, trackers, widgets = load()
        assert len(pages) == 1
        assert signals(pages[0]) == EXPECTED[pref.state]
        assert [signals(r) for r in widgets] == [EXPECTED[pref.state]]
        if pref.state is PreferenceState.DO_NOT_TRACK:
            assert trackers == []
        else:
            assert [signals(r) for r in trackers] == [EXPECTED[pref.state]]

    switch_to_exception(env, f"Referer: {env.base('site.test', scheme)}/")
    pages, trackers, widgets = load()
    assert signals(pages[0]) == (["1"], ["1"])
    assert [signals(r) for r in widgets] == [(["0"], [])]
    assert trackers == []
