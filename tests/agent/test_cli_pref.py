from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from trackpref.agent.preference_file import load_preference
from trackpref.cli import main
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
