"""The mitmproxy adapter, with mitmproxy's own test flows (no sockets)."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from trackpref.agent.addon import PreferenceWatcher, TrackprefAddon
from trackpref.agent.decision import Knowledge
from trackpref.agent.declaration_fetch import DeclarationChecker
from trackpref.agent.declarations import DeclarationCache
from trackpref.agent.hostmap import parse_host_map
from trackpref.agent.learning import TrackerLearner
from trackpref.agent.preference_file import UserPreference, save_preference
from trackpref.agent.tds import Surrogate, load_tds
from trackpref.signals.preference import PreferenceState

NOW = 1_750_000_000.0
DNT = UserPreference(PreferenceState.DO_NOT_TRACK)
TDS = load_tds(
    {
        "trackers": {
            "ads.example": {
                "default": "block",
                "rules": [{"rule": "ads\\.example/lib\\.js", "surrogate": "lib.js"}],
            },
            "cdn-tracker.example": {"default": "ignore"},
        }
    }
)


def flow(url: str, *headers: tuple[str, str]) -> http.HTTPFlow:
    fields = [(k.encode(), v.encode()) for k, v in headers]
    return tflow.tflow(req=http.Request.make("GET", url, b"", fields))


def addon(tmp_path: Path, pref: UserPreference = DNT, **knowledge: object) -> TrackprefAddon:
    path = tmp_path / "preference.json"
    save_preference(pref, path)
    k = Knowledge(trackers=TDS, **knowledge)  # type: ignore[arg-type]
    return TrackprefAddon(PreferenceWatcher(path, pref), k, clock=lambda: NOW)


def test_signals_are_set_and_the_app_values_replaced(tmp_path: Path) -> None:
    a = addon(tmp_path)
    f = flow("https://news.example/a?gclid=1&q=2", ("DNT", "0"), ("Sec-GPC", "junk"))
    a.request(f)
    assert f.request.headers.get_all("DNT") == ["1"]
    assert f.request.headers.get_all("Sec-GPC") == ["1"]
    assert f.request.path == "/a?q=2"
    assert f.response is None


def test_unset_leaves_the_flow_as_it_was(tmp_path: Path) -> None:
    a = addon(tmp_path, UserPreference())
    f = flow("https://ads.example/p", ("Referer", "https://news.example/a?b=c"), ("DNT", "1"))
    a.request(f)
    assert f.response is None
    assert f.request.headers.get_all("DNT") == ["1"]
    assert f.request.headers["Referer"] == "https://news.example/a?b=c"


def test_trackers_are_answered_by_the_proxy(tmp_path: Path) -> None:
    lib = Surrogate("lib.js", "application/javascript", b"window.lib={};")
    a = addon(tmp_path, surrogates={"lib.js": lib})
    f = flow("https://ads.example/p", ("Referer", "https://news.example/"))
    a.request(f)
    assert f.response is not None
    assert f.response.status_code == 204
    f = flow("https://ads.example/lib.js", ("Referer", "https://news.example/"))
    a.request(f)
    assert f.response is not None
    assert f.response.status_code == 200
    assert f.response.content == b"window.lib={};"
    assert f.response.headers["Content-Type"] == "application/javascript"


def test_cookies_of_an_ignore_tracker_are_stripped_both_ways(tmp_path: Path) -> None:
    a = addon(tmp_path)
    f = flow(
        "https://cdn-tracker.example/x", ("Referer", "https://news.example/p?q"), ("Cookie", "a=1")
    )
    a.request(f)
    assert "Cookie" not in f.request.headers
    assert f.request.headers["Referer"] == "https://news.example/"
    f.response = http.Response.make(200, b"", {"Set-Cookie": "uid=1"})
    a.response(f)
    assert "Set-Cookie" not in f.response.headers


def test_a_failing_hook_lets_the_flow_pass_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(url: str) -> str | None:
        raise RuntimeError("classifier bug")

    a = addon(tmp_path, mail_pixel=boom)
    f = flow("http://mail.example/open.gif", ("Accept", "image/*"), ("DNT", "0"))
    with caplog.at_level(logging.ERROR, logger="trackpref.proxy"):
        a.request(f)
    assert f.response is None
    assert f.request.headers.get_all("DNT") == ["0"]  # untouched: the decision never completed
    assert "request hook failed; traffic passes unchanged" in caplog.text
    assert "classifier bug" in caplog.text
    a.response(f)  # no decision stored: nothing to do, no error


def test_a_host_that_is_not_one_is_passed_through(tmp_path: Path) -> None:
    a = addon(tmp_path)
    a.host_map = parse_host_map(["*.test=127.0.0.1"])  # the Host header names the target then
    f = flow("http://example.com/")
    f.request.headers["Host"] = "bad host name"
    a.request(f)
    assert f.response is None
    assert "DNT" not in f.request.headers


def test_identifiers_seen_on_three_sites_teach_the_learner(tmp_path: Path) -> None:
    learner = TrackerLearner(tmp_path / "learned.json")
    a = addon(tmp_path, learner=learner)
    for site in ("a.example", "b.example", "c.example"):
        f = flow("https://collect.spy.example/c", ("Referer", f"https://{site}/"))
        a.request(f)
        assert f.response is None
        f.response = http.Response.make(200, b"", {"Set-Cookie": "uid=8f3a9c2e7b1d4f60aa; Path=/"})
        a.response(f)
    assert "spy.example" in learner.learned
    f = flow("https://collect.spy.example/c", ("Referer", "https://d.example/"))
    a.request(f)
    assert f.response is not None
    assert f.response.status_code == 204
    a.done()
    assert (tmp_path / "learned.json").exists()


def test_server_connect_maps_hosts(tmp_path: Path) -> None:
    a = addon(tmp_path)
    a.host_map = parse_host_map(["*.test=127.0.0.1"])
    data = SimpleNamespace(server=SimpleNamespace(address=("site.test", 8443)))
    a.server_connect(data)
    assert data.server.address == ("127.0.0.1", 8443)
    data = SimpleNamespace(server=SimpleNamespace(address=("example.com", 443)))
    a.server_connect(data)
    assert data.server.address == ("example.com", 443)


def test_running_and_done_start_and_stop_the_checker(tmp_path: Path) -> None:
    cache = DeclarationCache()
    checker = DeclarationChecker(cache, lambda url, headers, **_: (404, [], b""), interval=0.0)
    seen: list[list[tuple[str, int]]] = []
    a = addon(tmp_path, declarations=cache)
    a.checker = checker
    a.on_running = seen.append
    with warnings.catch_warnings():
        # mitmproxy's master imports ldap3, which trips a pyasn1 deprecation.
        warnings.simplefilter("ignore", DeprecationWarning)
        from mitmproxy.test import taddons

    with taddons.context(a, loadcore=False):  # type: ignore[no-untyped-call]
        a.running()
        f = flow("https://ads.example/p", ("Referer", "https://news.example/"))
        a.request(f)
        assert f.response is not None  # blocked while its declarations are unknown
        for _ in range(200):
            if cache.get("https://ads.example") is not None:
                break
            time.sleep(0.02)
        a.done()
    assert seen == [[]]
    assert cache.get("https://ads.example") is not None
    assert checker._thread is None


def test_the_watcher_rereads_a_changed_file_and_keeps_the_last_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "preference.json"
    save_preference(UserPreference(), path)
    clock = [0.0]
    watcher = PreferenceWatcher(path, UserPreference(), interval=1.0, clock=lambda: clock[0])
    save_preference(DNT, path)
    assert watcher.current().state is PreferenceState.UNSET  # not yet time to look
    clock[0] = 1.5
    assert watcher.current().state is PreferenceState.DO_NOT_TRACK
    path.write_text("{broken")
    clock[0] = 3.0
    with caplog.at_level(logging.ERROR, logger="trackpref.proxy"):
        assert watcher.current().state is PreferenceState.DO_NOT_TRACK
    assert str(path) in caplog.text
    path.unlink()
    clock[0] = 4.5
    assert watcher.current().state is PreferenceState.UNSET  # no file: the default
