from __future__ import annotations

import errno
import functools
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from trackpref.agent.preference_file import load_preference, preference_lock
from trackpref.cli import main
from trackpref.cli.pref import pref
from trackpref.signals.preference import PreferenceState


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["pref", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_path_and_default_show(config_home: Path) -> None:
    code, out, _ = run("path")
    assert code == 0
    assert out.strip() == str(config_home / "trackpref" / "preference.json")
    code, out, _ = run("show")
    assert code == 0
    assert "preference: unset" in out
    assert "nothing (no choice made" in out
    assert "not created yet" in out


def test_set_then_show_json(config_home: Path) -> None:
    code, out, _ = run("set", "do-not-track")
    assert code == 0
    assert "DNT: 1, Sec-GPC: 1" in out
    code, out, _ = run("show", "--json")
    document = json.loads(out)
    assert document["preference"] == "do-not-track"
    assert document["version"] == 1
    assert document["exists"] is True
    assert load_preference().state is PreferenceState.DO_NOT_TRACK
    run("set", "allow")
    assert load_preference().state is PreferenceState.ALLOW


def test_allow_and_revoke(config_home: Path) -> None:
    run("set", "do-not-track")
    code, out, err = run(
        "allow", "news.example", "metrics.example", "--max-age", "3600", "--name", "News"
    )
    assert code == 0, err
    assert "DNT: 0 to metrics.example on news.example" in out
    assert "covers that host only" in err
    pref = load_preference()
    assert pref.covers("news.example", "metrics.example", pref.exceptions.grants[0].created + 1)
    code, out, _ = run("show")
    assert "News: [news.example, metrics.example]" in out
    assert "expires" in out
    code, out, _ = run("revoke", "other.example")
    assert code == 0
    assert "no exception matched" in out
    code, out, _ = run("revoke", "news.example")
    assert "revoked 1 exception grant" in out
    assert len(load_preference().exceptions) == 0


def test_a_bad_site_is_a_usage_error(config_home: Path) -> None:
    code, _, err = run("allow", "not a host")
    assert code == 2
    assert "site" in err
    code, _, err = run("allow", "*")
    assert code == 2


def test_an_unreadable_file_is_never_overwritten_without_force(config_home: Path) -> None:
    path = config_home / "trackpref" / "preference.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "preference": "sometimes"}')
    code, _, err = run("show")
    assert code == 1
    assert str(path) in err
    assert "'preference' must be one of" in err
    code, out, err = run("show", "--json")
    assert code == 1
    assert json.loads(out)["file"] == str(path)
    code, _, err = run("set", "do-not-track")
    assert code == 1
    assert "Nothing was changed" in err
    assert path.read_text() == '{"version": 1, "preference": "sometimes"}'
    code, out, err = run("set", "do-not-track", "--force")
    assert code == 0
    assert "moved the unreadable file to" in err
    backups = list(path.parent.glob("preference.json.broken-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == '{"version": 1, "preference": "sometimes"}'
    assert load_preference().state is PreferenceState.DO_NOT_TRACK


def test_file_option_on_the_group_and_the_subcommand(tmp_path: Path, config_home: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("--file", str(a), "set", "allow")[0] == 0
    assert run("set", "do-not-track", "--file", str(b))[0] == 0
    assert load_preference(a).state is PreferenceState.ALLOW
    assert load_preference(b).state is PreferenceState.DO_NOT_TRACK
    assert not (config_home / "trackpref" / "preference.json").exists()


@pytest.mark.parametrize("when", ["1e308", "-1e18"])
def test_show_names_a_time_no_calendar_holds(tmp_path: Path, when: str) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"version": 1, "updated": ' + when + "}")
    code, out, _ = run("show", "--file", str(path))
    assert code == 0
    assert "(not a date)" in out


def test_nan_in_a_preference_file_is_refused_not_carried(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"version": 1, "x": NaN}')
    result = CliRunner().invoke(main, ["pref", "show", "--file", str(path)])
    assert result.exit_code != 0
    assert "NaN is not a JSON number" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert path.read_text() == '{"version": 1, "x": NaN}', "left as it was"


def test_a_pipe_given_as_the_file_is_named_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    os.mkfifo(path)
    result = CliRunner().invoke(main, ["pref", "show", "--file", str(path)])
    assert result.exit_code != 0
    assert "not a regular file" in result.output
    for change in (["set", "allow"], ["allow", "news.example"]):
        result = CliRunner().invoke(main, ["pref", *change, "--file", str(path)])
        assert result.exit_code == 1, result.output
        assert "not a regular file" in result.output
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"], "no lock file beside it"


# Runs ``python -m trackpref ARGS...`` once every process has imported
# trackpref and reached the barrier (a FIFO: opening it for reading blocks
# until the test opens it for writing). Without the barrier, start-up jitter
# spreads the processes out and a missing lock goes unnoticed most of the time.
_AT_THE_BARRIER = """
import runpy, sys
import trackpref.cli
print("ready", flush=True)
open(sys.argv[1], "rb").close()  # blocks until the test opens the FIFO for writing
sys.argv = ["trackpref", *sys.argv[2:]]
runpy.run_module("trackpref", run_name="__main__", alter_sys=True)
"""


def _open_barrier(fifo: Path, deadline: float) -> int:
    while True:
        try:
            # Non-blocking: fails with ENXIO until a reader waits, instead of
            # hanging the test if every process died before the barrier.
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@pytest.mark.slow
def test_concurrent_changes_from_many_processes_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "preference.json"
    fifo = tmp_path / "start"
    os.mkfifo(fifo)
    sites = [f"site{i}.example" for i in range(12)]
    commands = [["pref", "allow", site, "--file", str(path)] for site in sites]
    commands.append(["pref", "set", "do-not-track", "--file", str(path)])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_THE_BARRIER, str(fifo), *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for command in commands
    ]
    deadline = time.monotonic() + 120
    writer = None
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
        writer = _open_barrier(fifo, deadline)  # every process starts now
        results = [
            proc.communicate(timeout=max(1.0, deadline - time.monotonic())) for proc in procs
        ]
    finally:
        if writer is not None:
            os.close(writer)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    after = load_preference(path)
    granted = {d.site for g in after.exceptions.grants for d in g.duplets}
    assert granted == set(sites), f"lost: {sorted(set(sites) - granted)}"
    assert after.state is PreferenceState.DO_NOT_TRACK


def test_set_through_a_symlink_keeps_the_link(tmp_path: Path, config_home: Path) -> None:
    target = tmp_path / "dotfiles" / "trackpref.json"
    target.parent.mkdir()
    link = config_home / "trackpref" / "preference.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)  # dangling: the first save creates the target
    assert run("set", "do-not-track")[0] == 0
    assert run("allow", "news.example")[0] == 0
    assert link.is_symlink()
    pref_there = load_preference(target)
    assert pref_there.state is PreferenceState.DO_NOT_TRACK
    assert len(pref_there.exceptions) == 1
    assert sorted(p.name for p in link.parent.iterdir()) == ["preference.json"]


def test_force_through_a_symlink_moves_the_target_aside_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    target = tmp_path / "dotfiles" / "trackpref.json"
    target.parent.mkdir()
    target.write_text("{broken")
    link = tmp_path / "preference.json"
    link.symlink_to(target)
    code, _, err = run("set", "allow", "--force", "--file", str(link))
    assert code == 0, err
    assert str(target.parent) in err
    assert link.is_symlink()
    assert load_preference(target).state is PreferenceState.ALLOW
    (backup,) = target.parent.glob("trackpref.json.broken-*")
    assert backup.read_text() == "{broken"


def test_a_change_waiting_on_a_stuck_writer_fails_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "preference.json"
    monkeypatch.setattr(
        "trackpref.cli.pref.preference_lock", functools.partial(preference_lock, timeout=0.05)
    )
    with preference_lock(path):
        code, _, err = run("set", "allow", "--file", str(path))
    assert code == 1
    assert "being changed by another process" in err
    assert "Nothing was changed" in err
    assert not path.exists()


PREF_COMMANDS = sorted(pref.commands)


def _examples(command: str) -> list[str]:
    """The example lines of ``trackpref pref COMMAND --help``, as shown."""
    result = CliRunner().invoke(main, ["pref", command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "  Examples:" in lines, f"pref {command} --help has no Examples: block"
    start = lines.index("  Examples:") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        block.append(line.strip())
    return block


def test_the_group_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["pref", "--help"], catch_exceptions=False)
    assert re.search(r"^  Examples:\n    trackpref pref ", result.stdout, re.MULTILINE)


def test_every_pref_command_is_known_to_this_test() -> None:
    assert {"path", "show", "set", "allow", "revoke"} <= set(PREF_COMMANDS)


@pytest.mark.parametrize("command", PREF_COMMANDS)
def test_every_pref_command_help_shows_an_example_of_itself(command: str) -> None:
    examples = _examples(command)
    assert examples
    assert any(re.search(rf"\btrackpref pref {command}\b", line) for line in examples), examples


@pytest.mark.parametrize("command", PREF_COMMANDS)
def test_every_pref_example_runs(
    command: str, tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = 0
    for line in _examples(command):
        # The trackpref part of a shell line: comments, pipes and $(...) aside.
        words = shlex.split(line.split(" | ", 1)[0], comments=True)
        if words[:2] != ["trackpref", "pref"]:
            continue
        result = CliRunner().invoke(main, words[1:])
        assert result.exit_code == 0, (line, result.output)
        ran += 1
    assert ran, f"no runnable example for pref {command}"
