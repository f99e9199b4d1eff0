from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from capture_server import capture_servers

from trackpref.agent.declaration_fetch import (
    DeclarationChecker,
    FetchError,
    Response,
    check_origin,
    http_fetch,
)
from trackpref.agent.declarations import (
    DECLARED_TTL,
    UNDECLARED_TTL,
    Declaration,
    DeclarationCache,
    judge_dnt_policy,
    judge_gpc_json,
    judge_tsr,
)
from trackpref.signals import dnt_policy

TSR = [("Content-Type", "application/tracking-status+json")]
JSON = [("Content-Type", "application/json")]
POLICY = b"A stand-in for the EFF policy text, which trackpref cannot ship.\n"


def test_a_valid_tsr_saying_n_counts() -> None:
    assert judge_tsr(200, TSR, b'{"tracking": "N"}') == (True, "TSR tracking N")
    ok, why = judge_tsr(200, TSR, b'{"tracking": "T"}')
    assert not ok
    assert "'T'" in why
    ok, why = judge_tsr(200, [("Content-Type", "text/plain")], b'{"tracking": "N"}')
    assert not ok
    assert "Content-Type" in why
    assert not judge_tsr(404, TSR, b"")[0]
    assert not judge_tsr(200, [*TSR, ("Set-Cookie", "a=b")], b'{"tracking": "N"}')[0]


def test_gpc_json_true_counts() -> None:
    assert judge_gpc_json(200, JSON, b'{"gpc": true}') == (True, "gpc.json")
    assert not judge_gpc_json(200, JSON, b'{"gpc": false}')[0]
    assert not judge_gpc_json(200, JSON, b'{"gpc": "true"}')[0]
    assert not judge_gpc_json(200, [], b'{"gpc": true}')[0]
    assert not judge_gpc_json(500, JSON, b'{"gpc": true}')[0]


def test_the_eff_policy_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = dnt_policy.dnt_policy_sha1(POLICY)
    monkeypatch.setattr(dnt_policy, "EFF_POLICY_HASHES", {digest: "stand-in v1.0"})
    assert judge_dnt_policy(200, POLICY) == (True, "EFF DNT policy (stand-in v1.0)")
    assert not judge_dnt_policy(200, POLICY + b" ")[0]
    assert not judge_dnt_policy(404, POLICY)[0]


def test_the_cache_answers_fresh_entries_only() -> None:
    cache = DeclarationCache()
    assert cache.declared("https://a.example", 0) is None
    cache.put(Declaration("https://a.example", True, "gpc.json", 100.0))
    cache.put(Declaration("https://b.example", False, None, 100.0))
    assert cache.declared("https://a.example", 100 + DECLARED_TTL - 1) is True
    assert cache.declared("https://a.example", 100 + DECLARED_TTL) is None
    assert cache.compliant("https://a.example")
    assert cache.declared("https://b.example", 100 + UNDECLARED_TTL - 1) is False
    assert cache.declared("https://b.example", 100 + UNDECLARED_TTL) is None
    assert len(cache) == 2


def test_the_cache_is_bounded() -> None:
    cache = DeclarationCache(max_entries=16)
    for i in range(40):
        cache.put(Declaration(f"https://h{i}.example", False, None, float(i)))
    assert len(cache) <= 16
    assert cache.get("https://h39.example") is not None


class FakeWeb:
    def __init__(self, answers: Mapping[str, Response]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict[str, str]]] = []
        self.same_origin: list[bool] = []

    def __call__(
        self, url: str, headers: Mapping[str, str], *, same_origin: bool = False
    ) -> Response:
        self.asked.append((url, dict(headers)))
        self.same_origin.append(same_origin)
        if url not in self.answers:
            raise FetchError(f"{url}: connection refused")
        return self.answers[url]


def test_check_origin_stops_at_the_first_declaration() -> None:
    web = FakeWeb({"https://t.example/.well-known/gpc.json": (200, JSON, b'{"gpc": true}')})
    found = check_origin("https://t.example", web, 5.0)
    assert found.compliant
    assert found.how == "gpc.json"
    assert found.checked == 5.0
    assert [u for u, _ in web.asked] == [
        "https://t.example/.well-known/dnt/",
        "https://t.example/.well-known/gpc.json",
    ]
    assert web.asked[0][1] == {"DNT": "1"}


def test_checklist_47_the_eff_policy_is_checked_per_host_over_https_only() -> None:
    web = FakeWeb({})
    found = check_origin("http://t.example", web, 0)
    assert not found.compliant
    assert len(found.problems) == 2
    check_origin("https://t.example", web, 0)
    assert web.asked[-1][0] == "https://t.example/.well-known/dnt-policy.txt"
    assert web.same_origin[-1], "the EFF policy counts per host: no redirect elsewhere"
    assert not any(web.same_origin[:-1]), "gpc.json and the TSR follow redirects anywhere"


def test_the_checker_works_in_the_background_and_never_twice_at_once() -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow(url: str, headers: Mapping[str, str], *, same_origin: bool = False) -> Response:
        calls.append(url)
        release.wait(5)
        return (200, JSON, b'{"gpc": true}') if url.endswith("gpc.json") else (404, [], b"")

    cache = DeclarationCache()
    checker = DeclarationChecker(cache, slow, interval=0.0)
    checker.start()
    try:
        checker.request("https://t.example")
        checker.request("https://t.example")  # already pending: not queued again
        release.set()
        for _ in range(100):
            if cache.declared("https://t.example", time.time()):
                break
            threading.Event().wait(0.05)
        assert cache.declared("https://t.example", time.time()) is True
        checker.request("https://t.example")  # fresh: nothing to do
    finally:
        checker.stop()
    assert calls.count("https://t.example/.well-known/dnt/") == 1


def test_a_failing_fetch_does_not_kill_the_checker() -> None:
    def broken(url: str, headers: Mapping[str, str], *, same_origin: bool = False) -> Response:
        raise RuntimeError("bug")

    cache = DeclarationCache()
    checker = DeclarationChecker(cache, broken, interval=0.0)
    checker.start()
    checker.request("https://a.example")
    checker.stop()
    assert cache.get("https://a.example") is None


def test_checklist_44_47_http_fetch_follows_redirects_except_for_the_eff_policy(
    tmp_path: Path,
) -> None:
    with capture_servers(tmp_path) as servers:
        port = servers.http_port

        def dial(host: str, p: int) -> tuple[str, int]:
            return "127.0.0.1", p

        base = f"http://honest.test:{port}"
        status, headers, body = http_fetch(base + "/.well-known/gpc.json", {}, dial=dial)
        assert status == 200
        assert json.loads(body)["gpc"] is True
        assert ("Content-Type", "application/json") in headers
        status, _, body = http_fetch(
            f"http://a.test:{port}/redirect?to=http://honest.test:{port}/.well-known/gpc.json",
            {},
            dial=dial,
        )
        assert status == 200
        assert b"gpc" in body
        with pytest.raises(FetchError, match="another origin"):
            http_fetch(
                f"http://a.test:{port}/redirect?to=http://honest.test:{port}/.well-known/gpc.json",
                {},
                dial=dial,
                same_origin=True,
            )
        with pytest.raises(FetchError, match="larger than"):
            http_fetch(f"http://a.test:{port}/big", {}, dial=dial)
        with pytest.raises(FetchError, match="redirects"):
            http_fetch(f"http://a.test:{port}/loop", {}, dial=dial)
        assert servers.capture.to("honest.test", well_known=True)[0].values("user-agent") == [
            "trackpref"
        ]
    with pytest.raises(FetchError):
        http_fetch("ftp://a.example/", {})
    with pytest.raises(FetchError):
        http_fetch(f"http://127.0.0.1:{port}/", {}, timeout=1)
