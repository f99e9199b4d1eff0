from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from click.testing import CliRunner

from trackpref.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["proxy", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Stands in for mitmproxy: records that the proxy got as far as starting it."""
    calls: list[bool] = []

    def fake_run(main: Coroutine[Any, Any, None]) -> None:
        main.close()
        calls.append(True)

    monkeypatch.setattr("trackpref.cli.proxy.asyncio.run", fake_run)
    monkeypatch.setattr("trackpref.cli.proxy.gc.freeze", lambda: None)
    return calls


def test_an_unreadable_preference_file_stops_the_proxy_before_it_starts(config_home: Path) -> None:
    path = config_home / "trackpref" / "preference.json"
    path.parent.mkdir(parents=True)
    path.write_text("{nope")
    code, out = run("--listen-port", "0")
    assert code == 1
    assert str(path) in out
    assert "not JSON" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map-host", "no-equals-sign"], "expected PATTERN=ADDRESS"),
        (["--trackers", "{tds}"], "bad.json: trackers: must be a JSON object"),
        (["--privacy-config", "{tds}"], "one JSON object"),
    ],
)
def test_bad_inputs_are_named(
    config_home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    tds = tmp_path / "bad.json"
    tds.write_text(json.dumps({"trackers": []}) if "--trackers" in args else "[]")
    code, out = run(*[a.replace("{tds}", str(tds)) for a in args])
    assert code == 1
    assert message in out


def test_malformed_tracker_entries_are_warned_about_not_fatal(
    config_home: Path, tmp_path: Path
) -> None:
    from trackpref.agent.proxy_setup import build_addon
    from trackpref.cli.proxy import addon_warnings

    tds = tmp_path / "tds.json"
    tds.write_text(
        json.dumps({"trackers": {"a.example": {"default": "block", "rules": [{"rule": 7}]}}})
    )
    addon = build_addon(trackers=tds, learn=False, declarations=False)
    (warning,) = addon_warnings(addon)
    assert "skipped 1 malformed entries" in warning
    assert "'rule' string" in warning


def _real_proxy(tmp_path: Path, *args: str, confdir: Path | None = None) -> CompletedProcess[str]:
    """``trackpref proxy`` as a real process, for what only a real start shows."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "trackpref",
            "proxy",
            "--listen-port",
            "0",
            "--no-learn",
            "--preference",
            str(tmp_path / "p.json"),
            "--confdir",
            str(confdir or tmp_path / "mitm"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_a_bad_mitmproxy_option_is_reported(tmp_path: Path) -> None:
    done = _real_proxy(tmp_path, "--set", "no_such_option=1")
    assert done.returncode == 1
    assert "--set:" in done.stderr
    assert "no_such_option" in done.stderr


def test_the_default_confdir_is_mitmproxys() -> None:
    from mitmproxy.options import CONF_DIR

    from trackpref.agent.proxy_setup import DEFAULT_CONFDIR

    assert DEFAULT_CONFDIR == CONF_DIR


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("kind", ["pipe", "tracker file", "notes"])
def test_a_learned_file_that_is_not_learned_state_is_refused_not_moved(
    config_home: Path, tmp_path: Path, started: list[bool], kind: str
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    target = mine / "thing"
    if kind == "pipe":
        os.mkfifo(target)
    elif kind == "tracker file":
        target.write_text(json.dumps({"trackers": {}, "entities": {}, "domains": {}}))
    else:
        target.write_bytes(b"shopping list\n")
    before = target.read_bytes() if kind != "pipe" else None
    code, out = run(
        "--learned-file", str(target), "--confdir", str(tmp_path / "mitm"), "--listen-port", "0"
    )
    assert code == 1, out
    assert out.startswith(f"Error: {target}: ")
    assert "named pipe" in out if kind == "pipe" else "not a learned-trackers file" in out
    assert "Traceback" not in out
    assert not started
    assert _names(mine) == ["thing"]
    if before is not None:
        assert target.read_bytes() == before


def test_a_directory_at_the_default_learned_path_is_refused_not_moved(
    config_home: Path, tmp_path: Path, started: list[bool]
) -> None:
    from trackpref.agent.learning import learned_path

    path = learned_path()
    (path / "keep").mkdir(parents=True)
    code, out = run("--confdir", str(tmp_path / "mitm"), "--listen-port", "0")
    assert code == 1, out
    assert f"{path}: is a directory" in out
    assert not started
    assert _names(path.parent) == [path.name]
    assert (path / "keep").is_dir()


def test_a_broken_learned_file_of_ours_is_still_moved_aside(
    config_home: Path, tmp_path: Path, started: list[bool]
) -> None:
    path = tmp_path / "learned.json"
    path.write_text('{"version": 1, "trackers": {"ads.example": "a.example"}}')
    code, out = run(
        "--learned-file", str(path), "--confdir", str(tmp_path / "mitm"), "--listen-port", "0"
    )
    assert code == 0, out
    assert started
    assert not path.exists()
    assert len(list(tmp_path.glob("learned.json.broken-*"))) == 1


@pytest.mark.parametrize(
    ("confdir", "message"),
    [
        ("{file}/sub", "cannot be created, {file} is not a directory"),
        ("{file}/a/b", "cannot be created, {file} is not a directory"),
        # A folder even root cannot create files in; permission bits prove nothing for root.
        ("/proc", "mitmproxy cannot write its CA certificate there"),
    ],
)
def test_an_unusable_confdir_is_a_one_line_error_before_mitmproxy_starts(
    config_home: Path, tmp_path: Path, started: list[bool], confdir: str, message: str
) -> None:
    file = tmp_path / "file"
    file.write_text("not a folder")
    code, out = run("--no-learn", "--listen-port", "0", "--confdir", confdir.format(file=file))
    assert code == 1, out
    assert out.startswith(f"Error: --confdir {confdir.format(file=file)}: ")
    assert message.format(file=file) in out
    assert out.count("\n") == 1
    assert not started
    assert file.read_text() == "not a folder"


def test_a_confdir_that_is_a_file_is_a_usage_error(
    config_home: Path, tmp_path: Path, started: list[bool]
) -> None:
    file = tmp_path / "file"
    file.write_text("not a folder")
    code, out = run("--no-learn", "--confdir", str(file))
    assert code == 2
    assert "is a file" in out
    assert not started


def test_a_read_only_confdir_is_refused(
    config_home: Path, tmp_path: Path, started: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    confdir = tmp_path / "mitm"
    confdir.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into read-only folders: refuse as the kernel would
        import trackpref.agent.proxy_setup as proxy_setup

        def refused(*args: object, **kwargs: object) -> tuple[int, str]:
            raise PermissionError(13, "Permission denied", str(confdir))

        monkeypatch.setattr(proxy_setup.tempfile, "mkstemp", refused)
    code, out = run("--no-learn", "--confdir", str(confdir))
    assert code == 1
    assert "mitmproxy cannot write its CA certificate there" in out
    assert not started


def test_set_confdir_is_checked_too(config_home: Path, tmp_path: Path, started: list[bool]) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    good = tmp_path / "mitm"
    code, out = run(
        "--no-learn", "--confdir", str(good), "--set", f"confdir={file}/sub", "--listen-port", "0"
    )
    assert code == 1, out
    assert f"{file} is not a directory" in out
    assert not started


def test_a_usable_confdir_is_created_and_the_proxy_starts(
    config_home: Path, tmp_path: Path, started: list[bool]
) -> None:
    confdir = tmp_path / "new" / "mitm"
    code, out = run("--no-learn", "--listen-port", "0", "--confdir", str(confdir))
    assert code == 0, out
    assert started
    assert confdir.is_dir()
    assert list(confdir.iterdir()) == []  # the write check leaves nothing behind


@pytest.mark.slow
def test_an_unusable_confdir_stops_the_real_proxy_without_a_traceback(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    done = _real_proxy(tmp_path, confdir=file / "sub")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        done.stderr
        == f"Error: --confdir {file}/sub: cannot be created, {file} is not a directory\n"
    )
    assert "listening" not in done.stdout


@pytest.mark.parametrize(
    "content", [b'{"version": 1, "trac', b"\x00" * 64], ids=["truncated", "nul-filled"]
)
def test_an_unreadable_file_at_the_default_learned_path_is_moved_aside(
    config_home: Path, tmp_path: Path, started: list[bool], content: bytes
) -> None:
    # The default path is trackpref's own cache: a file there cut short by a
    # crash or a full disk is ours, and must not keep the proxy from starting.
    from trackpref.agent.learning import learned_path

    path = learned_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    code, out = run("--confdir", str(tmp_path / "mitm"), "--listen-port", "0")
    assert code == 0, out
    assert started
    assert not path.exists()
    (aside,) = path.parent.glob(f"{path.name}.broken-*")
    assert aside.read_bytes() == content


def test_a_port_in_use_is_named_in_our_words(config_home: Path, started: list[bool]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = run("--listen-port", str(port))
    assert code == 1
    assert f"--listen-port {port}: already in use" in out
    assert "--mode" not in out
    assert not started


def test_an_empty_listen_host_is_refused(config_home: Path, started: list[bool]) -> None:
    result = CliRunner().invoke(main, ["proxy", "--listen-host", ""])
    assert result.exit_code == 2
    assert "empty; give an address" in result.output
    assert not started
