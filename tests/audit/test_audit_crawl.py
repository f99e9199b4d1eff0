"""Crawls survive interruption: nothing recorded is lost, and the same crawl resumes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from audit_web import FixtureWeb

from trackpref.audit.browser_options import BrowserOptions
from trackpref.audit.crawl import AuditSetupError, replaces, run_crawl, write_reports
from trackpref.audit.failures import Failure, FailureKind
from trackpref.audit.runner import AuditConfig
from trackpref.audit.site import failed_site
from trackpref.audit.states import DEFAULT_STATES
from trackpref.audit.store import CrawlInfo, ResultStore
from trackpref.audit.trackers import TrackerKnowledge

SITES = ("clean", "honor", "hostile", "wrongtypes")


def _config(web: FixtureWeb, chromium: str) -> AuditConfig:
    return AuditConfig(
        retries=0,
        browser=BrowserOptions(
            executable=chromium, host_rules=web.rules, settle=0.2, page_timeout=3, read_timeout=2
        ),
    )


def _stored(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT url, report FROM results"))
    finally:
        db.close()


@pytest.mark.browser
def test_interrupted_crawl_resumes_without_losing_results(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    urls = [fixture_web.url(name) for name in SITES]
    config = _config(fixture_web, chromium)
    db = tmp_path / "audit.sqlite"
    saved: list[str] = []

    def interrupt_after_two(site: Mapping[str, Any]) -> None:
        saved.append(site["url"])
        if len(saved) == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the event loop

    with ResultStore(db) as store, pytest.raises(KeyboardInterrupt):
        asyncio.run(run_crawl(urls, store=store, config=config, on_site=interrupt_after_two))
    before = _stored(db)
    assert sorted(before) == sorted(saved)
    with ResultStore(db) as store:
        (crawl,) = store.db.execute("SELECT id, finished_at FROM crawls").fetchall()
        assert crawl[1] is None
        # What an interrupted run writes: a partial report, marked as such.
        partial = write_reports(
            tmp_path, store, crawl[0], knowledge=TrackerKnowledge(), states=DEFAULT_STATES
        )
        assert partial["crawl"]["complete"] is False
        assert len(partial["sites"]) == 2

    starts: list[CrawlInfo] = []
    with ResultStore(db) as store:
        result = asyncio.run(run_crawl(urls, store=store, config=config, on_start=starts.append))
        assert starts[0].resumed
        assert starts[0].id == crawl[0]
        assert sorted(starts[0].pending) == sorted(set(urls) - set(saved))
        document = write_reports(
            tmp_path, store, result.crawl.id, knowledge=result.knowledge, states=DEFAULT_STATES
        )
    after = _stored(db)
    assert sorted(after) == sorted(urls)
    for url, report in before.items():
        assert after[url] == report  # nothing recorded before the interrupt changed
    assert document["crawl"]["complete"] is True
    assert [s["url"] for s in document["sites"]] == urls
    assert json.loads((tmp_path / "report.json").read_text())["crawl"]["complete"] is True


@pytest.mark.browser
def test_reaudit_is_compared_with_the_previous_audit(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    urls = [fixture_web.url("clean")]
    config = _config(fixture_web, chromium)
    with ResultStore(tmp_path / "audit.sqlite") as store:
        first = asyncio.run(run_crawl(urls, store=store, config=config))
        second = asyncio.run(run_crawl(urls, store=store, config=config))
        assert second.crawl.id != first.crawl.id
        document = write_reports(
            tmp_path, store, second.crawl.id, knowledge=second.knowledge, states=DEFAULT_STATES
        )
        assert len(store.history(urls[0])) == 2
    changes = document["sites"][0]["changes"]
    assert changes is not None
    assert changes["verdicts"] == {}


def test_concurrency_is_bounded(fixture_web: FixtureWeb, tmp_path: Path) -> None:
    with (
        ResultStore(tmp_path / "a.sqlite") as store,
        pytest.raises(AuditSetupError, match="use 1 to 2 browsers"),
    ):
        asyncio.run(run_crawl(["http://x.test/"], store=store, config=AuditConfig(), concurrency=3))


def test_a_missing_browser_is_a_setup_error(fixture_web: FixtureWeb, tmp_path: Path) -> None:
    config = AuditConfig(browser=BrowserOptions(executable=str(tmp_path / "no-chromium")))
    with (
        ResultStore(tmp_path / "a.sqlite") as store,
        pytest.raises(AuditSetupError, match="cannot start Chromium"),
    ):
        asyncio.run(run_crawl([fixture_web.url("clean")], store=store, config=config))


@pytest.mark.browser
def test_a_site_over_its_deadline_is_recorded_and_the_crawl_goes_on(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    urls = [fixture_web.url("slow"), fixture_web.url("clean")]
    config = dataclasses.replace(_config(fixture_web, chromium), deadline=6)
    with ResultStore(tmp_path / "audit.sqlite") as store:
        result = asyncio.run(run_crawl(urls, store=store, config=config))
        slow, clean = store.results(result.crawl.id)
    assert slow["error"] == {
        "kind": "timeout",
        "message": "the audit took longer than 6 s",
        "states": [],
    }
    assert clean["error"] is None
    assert clean["verdicts"]["compliant"] is True


def _descendants(root: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, argv[0]) of every process below ``root`` (Linux /proc)."""
    procs: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        procs[int(entry.name)] = (int(stat.rpartition(")")[2].split()[1]), argv0)
    found: list[tuple[int, int, str]] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, argv0) in procs.items():
            if ppid == parent:
                found.append((pid, ppid, argv0))
                frontier.append(pid)
    return found


def _kill_browser() -> int:
    """SIGKILL the Chromium that Playwright launched for this process; its pid.

    The browser's main process is the Chromium whose parent is not Chromium
    (its renderers and helpers are its children, and die with it).
    """
    mine = _descendants(os.getpid())
    chromes = {pid for pid, _, argv0 in mine if "chrom" in Path(argv0).name}
    main = [pid for pid, ppid, _ in mine if pid in chromes and ppid not in chromes]
    assert len(main) == 1, f"expected one browser below this process: {mine}"
    os.kill(main[0], signal.SIGKILL)
    return main[0]


@pytest.mark.browser
def test_a_browser_that_dies_mid_crawl_is_relaunched_and_nothing_is_lost(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    urls = [fixture_web.url(name) for name in SITES]
    config = _config(fixture_web, chromium)
    db = tmp_path / "audit.sqlite"
    killed: list[int] = []
    saved: list[Mapping[str, Any]] = []

    def kill_after_the_first(site: Mapping[str, Any]) -> None:
        saved.append(site)
        if len(saved) == 1:
            killed.append(_kill_browser())

    with ResultStore(db) as store:
        asyncio.run(run_crawl(urls, store=store, config=config, on_site=kill_after_the_first))
    assert killed
    stored = {url: json.loads(report) for url, report in _stored(db).items()}
    assert sorted(stored) == sorted(urls), "every site has a result"
    assert stored[urls[0]] == json.loads(json.dumps(saved[0])), "the first result is intact"
    # The browser was replaced: the sites after the kill were audited, not
    # written off (at most the one in flight may name the browser's death).
    errors = [(s.get("error") or {}).get("kind") for s in stored.values()]
    assert errors.count("browser") <= 1, errors
    judged = [s for s in stored.values() if s["verdicts"]["compliant"] is not None]
    assert len(judged) >= len(urls) - 1, errors


@pytest.mark.browser
def test_a_page_with_lone_surrogates_is_audited_and_the_crawl_reports(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    # localStorage.setItem('lone', 'ab\ud800cd'), a pair split by the storage
    # limit, a lone surrogate in a key: UTF-8 cannot encode any of them, and
    # the crawl used to die at this site (and at it again on every resume).
    urls = [fixture_web.url("surrogate"), fixture_web.url("clean")]
    config = _config(fixture_web, chromium)
    with ResultStore(tmp_path / "audit.sqlite") as store:
        result = asyncio.run(run_crawl(urls, store=store, config=config))
        write_reports(
            tmp_path, store, result.crawl.id, knowledge=result.knowledge, states=DEFAULT_STATES
        )
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert document["crawl"]["complete"] is True
    hostile, clean = document["sites"]
    assert hostile["error"] is None
    assert clean["error"] is None
    storage = {s["key"]: s["value"] for s in hostile["states"]["no-signal"]["storage"]}
    assert storage["lone"] == "ab\ufffdcd"
    assert storage["split"].startswith("xxx")  # cut at 80 in the report
    assert "k\ufffd" in storage


@pytest.mark.browser
def test_a_result_that_cannot_be_saved_is_that_sites_error(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever else a page finds to break serialising its result, it is that
    # site's recorded error, and the crawl and its report go on.
    from trackpref.audit import crawl as crawl_module

    real = crawl_module.site_to_json
    hostile = fixture_web.url("hostile")

    def breaks_on_hostile(audit: Any) -> dict[str, Any]:
        if audit.url == hostile and audit.failure is None:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real(audit)

    monkeypatch.setattr(crawl_module, "site_to_json", breaks_on_hostile)
    urls = [hostile, fixture_web.url("clean")]
    with ResultStore(tmp_path / "audit.sqlite") as store:
        result = asyncio.run(run_crawl(urls, store=store, config=_config(fixture_web, chromium)))
        document = write_reports(
            tmp_path, store, result.crawl.id, knowledge=result.knowledge, states=DEFAULT_STATES
        )
    broken, clean = document["sites"]
    assert broken["error"]["kind"] == "other"
    assert "could not be recorded" in broken["error"]["message"]
    assert broken["verdicts"]["gpc_honored"] is None
    assert clean["error"] is None
    assert document["crawl"]["complete"] is True


def test_a_failed_second_look_never_replaces_a_complete_first_result() -> None:
    timeout = Failure(FailureKind.TIMEOUT, "the audit took longer than 60 s")
    failed = failed_site("https://a.example/", timeout, audited_at="t")
    complete = {"url": "https://a.example/", "error": None, "states": {"no-signal": {}}}
    assert not replaces(complete, failed)
    # A first result that had failed too is no better: the second one is kept.
    assert replaces({**complete, "error": {"kind": "timeout"}}, failed)
    ok = dataclasses.replace(failed, failure=None)
    assert replaces(complete, ok)


@pytest.mark.browser
def test_a_crawl_stopped_before_its_recheck_finishes_it_when_resumed(
    fixture_web: FixtureWeb, chromium: str, tmp_path: Path
) -> None:
    """partnered.test declares tracker.test same-party; ignore.test, after it,
    teaches that tracker.test is a tracker. Ctrl-C as the recheck starts: every
    site has a result, the crawl is not finished; resumed, it rechecks."""
    partnered = fixture_web.url("partnered")
    urls = [partnered, fixture_web.url("ignore")]
    config = _config(fixture_web, chromium)
    base = TrackerKnowledge(threshold=1)
    db = tmp_path / "audit.sqlite"
    rechecks: list[list[str]] = []

    def stop(again: Any) -> None:
        rechecks.append(list(again))
        raise KeyboardInterrupt

    with ResultStore(db) as store, pytest.raises(KeyboardInterrupt):
        asyncio.run(
            run_crawl(urls, store=store, config=config, base_knowledge=base, on_recheck=stop)
        )
    assert rechecks == [[partnered]]
    first = json.loads(_stored(db)[partnered])
    assert first["same_party_honored"] == ["tracker.test"]

    starts: list[CrawlInfo] = []
    with ResultStore(db) as store:
        result = asyncio.run(
            run_crawl(
                urls,
                store=store,
                config=config,
                base_knowledge=base,
                on_start=starts.append,
                on_recheck=rechecks.append,
            )
        )
        assert starts[0].resumed
        assert starts[0].pending == ()
        assert result.crawl.id == starts[0].id
        (finished,) = store.db.execute("SELECT finished_at FROM crawls").fetchone()
        assert finished is not None
    assert rechecks == [[partnered], [partnered]]
    second = json.loads(_stored(db)[partnered])
    assert second["same_party_honored"] == []
    assert second["audited_at"] >= first["audited_at"]
