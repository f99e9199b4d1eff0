"""``trackpref audit`` from the command line, including a real Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from audit_web import FixtureWeb
from click.testing import CliRunner

from trackpref.audit.store import open_results
from trackpref.cli import main

RULES = "MAP *.test 127.0.0.1"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", *args])
    return result.exit_code, result.output


def test_help_has_examples() -> None:
    code, out = invoke("--help")
    assert code == 0
    assert "Examples:" in out
    assert "--host-rules" in out
    assert "trackpref audit --from sites.txt --out crawl/" in out
    assert "--resolve-cnames" in out


def test_dns_server_forms() -> None:
    from trackpref.cli.audit import _dns_server

    assert _dns_server(None) is None
    assert _dns_server("127.0.0.1") == ("127.0.0.1", 53)
    assert _dns_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert _dns_server("[::1]:5353") == ("::1", 5353)
    assert _dns_server("::1") == ("::1", 53)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--out", "x"), "give at least one URL"),
        (("ftp://a", "--out", "x"), "only http and https"),
        (("http://a.test/", "--out", "x", "--host-rules", "MAP *.test"), "host rule 1"),
        (("http://a.test/", "--out", "x", "--states", "dnt2"), "unknown state 'dnt2'"),
        (("http://a.test/", "--out", "x", "--browsers", "3"), "--browsers"),
        (("--from", "/nonexistent/urls.txt", "--out", "x"), "cannot read /nonexistent/urls.txt"),
        (("http://a.test/", "--out", "x", "--dns-server", "dns.example"), "--dns-server"),
        (("http://a.test/", "--out", "x", "--dns-server", "127.0.0.1:99999"), "1-65535"),
        (("http://a.test/", "--out", "x", "--dns-server", "127.0.0.1:\u00b2"), "1-65535"),
        (("http://a.test/", "--out", "x", "--settle", "nan"), "not a finite number"),
        (("http://a.test/", "--out", "x", "--timeout", "inf"), "--timeout"),
        (("http://a.test/", "--out", "x", "--max-page-mb", "nan"), "not a finite number"),
    ],
)
def test_bad_input_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = invoke(*args)
    assert code == 2
    assert message in out
    assert "Traceback" not in out


def test_bad_tds_file_is_named(tmp_path: Path) -> None:
    tds = tmp_path / "tds.json"
    tds.write_text("[1, 2]")
    code, out = invoke("http://a.test/", "--out", str(tmp_path / "o"), "--tds", str(tds))
    assert code == 2
    assert "a TDS file is a JSON object" in out


def test_unusable_results_file(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    db.write_bytes(b"not sqlite at all" * 64)
    code, out = invoke("http://a.test/", "--out", str(tmp_path / "o"), "--db", str(db))
    assert code == 1
    assert "not a usable results database" in out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "trackpref", "audit", *args]


def _fixture_run(out: Path) -> list[str]:
    """Options of a quick crawl of the fixture web into ``out``."""
    return ["--out", str(out), "--host-rules", RULES, "--settle", "0.2", "--timeout", "5"]


@pytest.mark.browser
def test_end_to_end_with_fail_on_violation(fixture_web: FixtureWeb, tmp_path: Path) -> None:
    hashes = tmp_path / "hashes.json"
    hashes.write_text(json.dumps(fixture_web.policy_hashes))
    out = tmp_path / "out"
    proc = subprocess.run(
        _cli(
            fixture_web.url("clean"),
            fixture_web.url("liar"),
            # By address, as `trackpref serve` is reached: the host rules do not apply.
            f"http://127.0.0.1:{fixture_web.port}/",
            *_fixture_run(out),
            "--dnt-policy-hashes",
            str(hashes),
            "--no-progress",
            "--fail-on-violation",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "3 site(s): 2 compliant, 1 not compliant" in proc.stdout
    document = json.loads((out / "report.json").read_text())
    liar = document["sites"][1]
    assert liar["declarations"]["dnt_policy"]["compliant"] is False  # plain HTTP: no claim
    assert liar["verdicts"]["claims_contradicted"] is True
    assert (out / "report.html").stat().st_size > 1000
    by_address = document["sites"][2]
    assert by_address["site"] == "127.0.0.1"
    assert by_address["verdicts"]["compliant"] is True


@pytest.mark.browser
def test_ctrl_c_then_the_same_command_resumes(fixture_web: FixtureWeb, tmp_path: Path) -> None:
    names = ("clean", "honor", "hostile", "wrongtypes", "liar", "broken")
    urls = tmp_path / "urls.txt"
    urls.write_text("# fixture sites\n" + "\n".join(fixture_web.url(n) for n in names) + "\n")
    out = tmp_path / "out"
    args = _cli("--from", str(urls), *_fixture_run(out), "--no-progress")
    # Its own process group, so the signal reaches the browser too, as a
    # terminal's Ctrl-C does.
    proc = subprocess.Popen(
        args, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    db = out / "audit.sqlite"
    deadline = time.monotonic() + 90
    recorded = 0
    while recorded < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    recorded = conn.execute("SELECT count(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                recorded = 0
    assert recorded >= 2, "the crawl did not record two sites in time"
    os.killpg(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    partial = json.loads((out / "report.json").read_text())
    assert partial["crawl"]["complete"] is False
    kept = {s["url"]: s for s in partial["sites"]}
    assert len(kept) >= 2

    again = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert "resuming crawl #1" in again.stderr
    final = json.loads((out / "report.json").read_text())
    assert final["crawl"]["complete"] is True
    assert [s["url"] for s in final["sites"]] == [fixture_web.url(n) for n in names]
    for site in final["sites"]:
        if site["url"] in kept:
            assert site["audited_at"] == kept[site["url"]]["audited_at"]
            assert site["verdicts"] == kept[site["url"]]["verdicts"]


@pytest.mark.browser
def test_a_site_audited_before_its_partner_was_learned_as_a_tracker(
    fixture_web: FixtureWeb, tmp_path: Path
) -> None:
    """partnered.test declares tracker.test same-party; ignore.test, audited
    after it, teaches the crawl that tracker.test is a tracker (threshold 1).
    By default the finished crawl audits partnered.test again with that
    knowledge; with --no-recheck the report names it instead, and the same
    command again audits it with what was learned."""
    partnered = fixture_web.url("partnered")

    def crawl(out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        proc = subprocess.run(
            _cli(
                partnered,
                fixture_web.url("ignore"),
                *_fixture_run(out),
                "--tracker-threshold",
                "1",
                "--no-progress",
                *extra,
            ),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc, json.loads((out / "report.json").read_text())

    def judged_with_the_tracker_known(document: dict[str, Any]) -> None:
        site = document["sites"][0]
        assert site["same_party_honored"] == []
        assert site["order_dependent"] == {"same_party": [], "cname": []}
        assert document["order_dependent"] == []
        assert site["verdicts"]["gpc_honored"] is False

    # The default: audited again once the crawl is done.
    proc, checked = crawl(tmp_path / "rechecked")
    # One pass, of partnered.test alone: the second look learned nothing new.
    assert proc.stderr.count("auditing 1 site(s) again: trackers learned after them") == 1
    assert proc.stderr.count("site(s) again") == 1
    assert "were audited before" not in proc.stdout
    judged_with_the_tracker_known(checked)

    # --no-recheck: named in the report, the HTML and on the terminal.
    out = tmp_path / "named"
    proc, first = crawl(out, "--no-recheck")
    site = first["sites"][0]
    assert site["same_party_honored"] == ["tracker.test"]
    assert site["order_dependent"] == {"same_party": ["tracker.test"], "cname": []}
    assert first["order_dependent"] == [partnered]
    assert "1 site(s) were audited before trackers were learned" in proc.stdout
    assert "Audited before trackers were learned" in (out / "report.html").read_text()
    assert site["verdicts"]["gpc_honored"] is not False  # the tracker was the site itself then

    # The crawl is complete: the same command starts a new one, with what was learned.
    proc, again = crawl(out, "--no-recheck")
    assert "were audited before" not in proc.stdout
    judged_with_the_tracker_known(again)


def test_a_url_file_without_urls_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "urls.txt").write_text("# only a comment\n\n")
    code, out = invoke("--from", "urls.txt", "--out", "x")
    assert code == 2
    assert "urls.txt holds no URL" in out


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("mysql://x/y", "unknown store scheme 'mysql'"),
        ("sqlite://relative.db", "write sqlite:///relative.db"),
    ],
)
def test_a_results_db_is_read_as_the_ledgers_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = invoke(
        "http://a.test/", "--out", "x", "--db", db, "--host-rules", "MAP * 127.0.0.1"
    )
    assert code == 1, out
    assert message in out
    assert "Traceback" not in out
    assert not (tmp_path / "mysql:").exists()


def test_open_results_reads_a_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_results("sqlite:///kept.db")
    try:
        assert (tmp_path / "kept.db").exists()
    finally:
        store.close()


def test_the_help_keeps_its_line_continuation() -> None:
    code, out = invoke("--help")
    assert code == 0
    assert "db.internal/audits \\\n" in out
