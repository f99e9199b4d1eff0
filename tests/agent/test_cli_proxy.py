from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from trackpref.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["proxy", *args], catch_exceptions=False)
    return result.exit_code, result.output


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


@pytest.mark.slow
def test_a_bad_mitmproxy_option_is_reported(tmp_path: Path) -> None:
    done = subprocess.run(
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
            str(tmp_path / "mitm"),
            "--set",
            "no_such_option=1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "--set:" in done.stderr
    assert "no_such_option" in done.stderr
