from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from trackpref.cli import main
from trackpref.ledger.inventory import MAX_INVENTORY_BYTES

EXAMPLE = str(resources.files("trackpref").joinpath("examples", "inventory.toml"))


def test_check_ok() -> None:
    result = CliRunner().invoke(main, ["inventory", "check", EXAMPLE])
    assert result.exit_code == 0, result.output
    assert "OK: 3 datasets" in result.output


def test_check_reports_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nname = "x"\n[datasets.v]\npurposes = ["nope"]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["inventory", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: datasets.v.purposes: unknown purpose 'nope'" in result.output
    assert "Traceback" not in result.output
    as_json = CliRunner().invoke(main, ["inventory", "check", "--json", str(bad)])
    assert as_json.exit_code == 1
    doc = json.loads(as_json.output)
    assert doc["ok"] is False
    assert any(
        p == {"file": str(bad), "line": 4, "field": "datasets.v.purposes", "message": p["message"]}
        for p in doc["problems"]
    )


def test_check_missing_file() -> None:
    result = CliRunner().invoke(main, ["inventory", "check", "/nonexistent/inv.toml"])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output


def test_render_html_and_json(tmp_path: Path) -> None:
    out = tmp_path / "privacy.html"
    result = CliRunner().invoke(main, ["inventory", "render", EXAMPLE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "<title>What news.example collects and why</title>" in out.read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["inventory", "render", EXAMPLE, "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["site"]["name"] == "news.example"


def test_render_refuses_invalid_inventory(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[site\n", encoding="utf-8")
    out = tmp_path / "page.html"
    result = CliRunner().invoke(main, ["inventory", "render", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{bad}:1" in result.output
    assert not out.exists()


def test_help_has_examples() -> None:
    for args in (
        ["inventory", "--help"],
        ["inventory", "check", "--help"],
        ["inventory", "render", "--help"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0
        assert "Examples:" in result.output
        assert "trackpref inventory" in result.output


def test_deep_nesting_is_named_not_a_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 2000 + "]" * 2000 + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["inventory", "check", str(deep)])
    assert result.exit_code == 1
    assert "nested too deeply" in result.output
    assert "Traceback" not in result.output


def test_only_regular_files_of_bounded_size_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # opening it for reading would block forever
    for path in (str(fifo), "/dev/zero"):
        result = CliRunner().invoke(main, ["inventory", "check", path])
        assert result.exit_code == 1
        assert "not a regular file" in result.output, path
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * (MAX_INVENTORY_BYTES + 1))
    result = CliRunner().invoke(main, ["inventory", "check", str(huge)])
    assert result.exit_code == 1
    assert "larger than" in result.output


def test_render_will_not_write_over_its_own_inventory(tmp_path: Path) -> None:
    mine = tmp_path / "inventory.toml"
    mine.write_text(Path(EXAMPLE).read_text(encoding="utf-8"), encoding="utf-8")
    before = mine.read_bytes()
    out = str(tmp_path / "." / "inventory.toml")
    result = CliRunner().invoke(main, ["inventory", "render", str(mine), "--out", out])
    assert result.exit_code == 2
    assert "is the inventory itself" in result.output
    assert mine.read_bytes() == before


def test_a_full_disk_behind_stdout_is_an_error_not_a_traceback() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "trackpref", "inventory", "render", EXAMPLE],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "cannot write the output: No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
