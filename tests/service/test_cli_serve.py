"""``trackpref serve``'s options: clear errors, never a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from trackpref.cli.serve import serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, int]]]:
    """Stands in for uvicorn's serving loop: records the addresses it was handed."""
    calls: list[list[tuple[str, int]]] = []

    def fake_run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        calls.append([sock.getsockname()[:2] for sock in sockets or []])
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    return calls


def test_help_lists_the_service_options() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    for option in ("--demo", "--db", "--site", "--durability", "--job-interval", "--smtp"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "not a host"], "sites"),
        (["--db", "ftp://example/x"], "unknown store scheme"),
        (["--job-interval", "retention"], "NAME=SECONDS"),
        (["--job-interval", "compaction=5"], "unknown compaction"),
        (["--durability", "sometimes"], "sometimes"),
        (["--db", ""], "no database path"),
        (["--host", ""], "--host"),
        (["--host", "  "], "empty; give an address"),
        (["--smtp", ":25"], "smtp: ':25': write HOST or HOST:PORT"),
        (["--smtp", "mail.example:99999"], "the port must be 1-65535"),
        (["--batch-delay-ms", "nan"], "not a finite number"),
    ],
)
def test_bad_options_get_a_clear_error(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[list[tuple[str, int]]],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKPREF_ADMIN_TOKEN", "cli-test-admin-token-1234")
    result = CliRunner().invoke(serve, [*args, "--port", "0"])
    assert result.exit_code == 2 or result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not served


@pytest.mark.parametrize(
    ("host", "message"),
    [
        # Neither needs the network: glibc refuses "bad host!" before asking DNS,
        # Python's IDNA encoder refuses the empty label.
        ("bad host!", "cannot be resolved"),
        ("a..b", "not a valid host name"),
        # TEST-NET-1, reserved for documentation: no machine has it.
        ("192.0.2.1", "not an address of this machine"),
    ],
)
def test_a_bad_host_stops_serve_before_an_admin_token_is_made(
    host: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[list[tuple[str, int]]],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKPREF_ADMIN_TOKEN", raising=False)
    db = tmp_path / "stats.db"
    args = ["--port", "0", "--db", str(db), "--no-jobs"]
    result = CliRunner().invoke(serve, ["--host", host, *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: --host {host!r}: {message}")
    assert result.output.count("\n") == 1
    assert not served
    assert not list(tmp_path.glob("stats.db*"))  # nothing stored, no token among it
    # The next good start is the first: it makes the token and shows it.
    again = CliRunner().invoke(serve, ["--host", "127.0.0.1", *args])
    assert again.exit_code == 0, again.output
    assert "Admin token for the dashboard" in again.output
    ((address,),) = served
    assert address[0] == "127.0.0.1"
    assert address[1] != 0
    assert f"trackpref serve on http://127.0.0.1:{address[1]}/" in again.output


def test_a_port_in_use_is_named_before_an_admin_token_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[list[tuple[str, int]]]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKPREF_ADMIN_TOKEN", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(serve, ["--port", str(port), "--db", "stats.db"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: --host '127.0.0.1' --port {port}: cannot listen")
    assert "Admin token" not in result.output
    assert not served
    assert not list(tmp_path.glob("stats.db*"))


def test_sockets_listen_from_the_start_so_a_second_serve_cannot_take_the_port() -> None:
    # Bound but not yet listening, a port is open to any other SO_REUSEADDR
    # bind; whichever listened first would win, after both printed a token.
    import click

    from trackpref.cli.serve import _listen

    first = _listen("127.0.0.1", 0)
    try:
        port = first[0].getsockname()[1]
        with pytest.raises(click.ClickException, match=f"--port {port}: cannot listen"):
            _listen("127.0.0.1", port)
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        for sock in first:
            sock.close()


@pytest.mark.slow
def test_port_0_serves_on_the_port_the_banner_shows(tmp_path: Path) -> None:
    env = {**os.environ, "TRACKPREF_ADMIN_TOKEN": "cli-test-admin-token-1234"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackpref", "serve", "--port", "0", "--db", "s.db", "--no-jobs"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.fullmatch(
            r"trackpref serve on http://127\.0\.0\.1:(\d+)/ \(data in .*\)\n", banner
        )
        assert match, banner
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{match[1]}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert reply.status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outbox", "/proc/no-such-folder"], "outbox: cannot use /proc/no-such-folder"),
        (["--smtp-sender", "bad"], "sender"),
    ],
)
def test_a_start_that_fails_late_keeps_the_admin_token_for_the_next(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[list[tuple[str, int]]],
) -> None:
    """A generated token is shown once: a start that fails must fail before making it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKPREF_ADMIN_TOKEN", raising=False)
    base = ["--port", "0", "--db", str(tmp_path / "stats.db"), "--no-jobs"]
    result = CliRunner().invoke(serve, [*base, *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert "Admin token" not in result.output
    again = CliRunner().invoke(serve, base)
    assert again.exit_code == 0, again.output
    assert "Admin token for the dashboard" in again.output
