"""``trackpref serve``'s options: clear errors, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from trackpref.cli.serve import serve


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
    ],
)
def test_bad_options_get_a_clear_error(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKPREF_ADMIN_TOKEN", "cli-test-admin-token-1234")
    result = CliRunner().invoke(serve, [*args, "--port", "1"])
    assert result.exit_code == 2 or result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
