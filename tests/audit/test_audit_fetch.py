"""The declaration fetcher against the loopback fixture web (no browser)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine
from typing import Any, TypeVar

from audit_web import FixtureWeb

from trackpref.audit.declarations import Fetched, OriginDeclarations
from trackpref.audit.failures import FailureKind
from trackpref.audit.fetch import DeclarationFetcher
from trackpref.audit.hostrules import HostRules

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _declarations(
    web: FixtureWeb, host: str, status_ids: tuple[str, ...] = ()
) -> OriginDeclarations:
    async with DeclarationFetcher(host_rules=web.rules, timeout=1.5) as fetcher:
        return await fetcher.origin_declarations(
            f"http://{host}.test:{web.port}", status_ids=status_ids
        )


def test_host_rules_reach_the_mapped_server_with_the_original_host(fixture_web: FixtureWeb) -> None:
    decl = run(_declarations(fixture_web, "honor"))
    # The fixture routes on the Host header: a valid answer proves it was kept.
    assert decl.tsr.valid is True
    assert decl.tsr.depends_on_dnt is True
    assert (decl.tsr.effective, decl.tsr.effective_with_dnt) == ("T", "N")
    assert decl.gpc.gpc is True
    assert decl.dnt_policy.present is False


def test_without_rules_the_names_do_not_resolve(fixture_web: FixtureWeb) -> None:
    async def go() -> Fetched:
        async with DeclarationFetcher(host_rules=HostRules(), timeout=1.5) as fetcher:
            return await fetcher.fetch(
                fixture_web.url("honor", "/.well-known/gpc.json"), max_bytes=100
            )

    fetched = run(go())
    assert fetched.failure is not None
    assert fetched.failure.kind is FailureKind.UNREACHABLE


def test_bad_hosts_become_failures(fixture_web: FixtureWeb) -> None:
    async def go() -> tuple[Fetched, ...]:
        async with DeclarationFetcher(host_rules=fixture_web.rules, timeout=1) as fetcher:
            return await asyncio.gather(
                fetcher.fetch(fixture_web.url("loop"), max_bytes=1000),
                fetcher.fetch(fixture_web.url("slow"), max_bytes=10**6),
                fetcher.fetch(f"https://tls.test:{fixture_web.tls_port}/", max_bytes=1000),
                fetcher.fetch(fixture_web.url("nowhere"), max_bytes=1000),
                fetcher.fetch(f"http://closed.test:{fixture_web.closed_port}/", max_bytes=1000),
                fetcher.fetch("ftp://x.test/", max_bytes=1000),
            )

    loop, slow, tls, nowhere, closed, ftp = run(go())
    assert loop.failure is not None
    assert loop.failure.kind is FailureKind.REDIRECT_LOOP
    assert len(loop.redirects) == 6
    assert slow.failure is not None
    assert slow.failure.kind is FailureKind.TIMEOUT
    assert tls.failure is not None
    assert tls.failure.kind is FailureKind.TLS
    assert nowhere.failure is not None
    assert nowhere.failure.kind is FailureKind.UNREACHABLE
    assert "~NOTFOUND" in nowhere.failure.message
    assert closed.failure is not None
    assert closed.failure.kind is FailureKind.UNREACHABLE
    assert ftp.failure is not None
    assert ftp.failure.kind is FailureKind.INVALID_URL


def test_mapped_https_checks_the_certificate_against_the_original_name(
    fixture_web: FixtureWeb,
) -> None:
    context = ssl.create_default_context(cafile=fixture_web.certfile)

    async def go() -> Fetched:
        async with DeclarationFetcher(host_rules=fixture_web.rules, timeout=2, verify=context) as f:
            return await f.fetch(
                f"https://tls.test:{fixture_web.tls_port}/.well-known/gpc.json", max_bytes=1000
            )

    fetched = run(go())
    assert fetched.failure is None
    assert fetched.status == 200
    assert b'"gpc": true' in fetched.body or b'"gpc":true' in fetched.body


def test_hostile_declarations_are_cut_at_the_limit(fixture_web: FixtureWeb) -> None:
    decl = run(_declarations(fixture_web, "hostile"))
    assert decl.tsr.valid is False
    assert any("not JSON" in p for p in decl.tsr.problems)
    assert decl.gpc.valid is False
    assert "larger than 65536 bytes" in decl.gpc.problems[0]
    assert decl.dnt_policy.compliant is False
    assert "larger than 1048576 bytes" in decl.dnt_policy.problems[0]


def test_malformed_declarations(fixture_web: FixtureWeb) -> None:
    decl = run(_declarations(fixture_web, "broken"))
    assert decl.tsr.valid is False
    assert any("must not set cookies" in p for p in decl.tsr.problems)
    assert decl.gpc.valid is False
    assert decl.gpc.gpc is None
    problems = " ".join(decl.gpc.problems)
    assert "text/plain" in problems
    assert '"true"' in problems


def test_request_specific_tsrs_are_bounded(fixture_web: FixtureWeb) -> None:
    ids = tuple(f"id{i}" for i in range(20))
    decl = run(_declarations(fixture_web, "clean", ids))
    assert len(decl.request_specific) == 5
    assert all(r.present is False for r in decl.request_specific)
