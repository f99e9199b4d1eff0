"""Shared fixtures for the agent tests, and the DuckDuckGo vector summary.

The summary counts, per suite, the applicable reference cases that passed and
lists every case that does not apply to a network-level agent, with its
reason, at the end of the test run.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ddg_vectors import CASES

_PASSED: Counter[str] = Counter()
_FAILED: Counter[str] = Counter()
_VECTOR_TESTS = "test_reference_vectors.py::test_"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" or _VECTOR_TESTS not in report.nodeid or "[" not in report.nodeid:
        return
    test = report.nodeid.split("::", 1)[1].split("[", 1)[0]
    suite = {
        "test_gpc_header": "global-privacy-control",
        "test_referrer_header": "referrer-trimming",
        "test_tracking_parameters": "url-parameters",
        "test_third_party_tracking_cookies": "block-third-party-tracking-cookies",
        "test_tracker_matching": "tracker-domain-matching",
    }.get(test)
    if suite is None:
        return
    (_PASSED if report.passed else _FAILED)[suite] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (_PASSED or _FAILED):
        return
    tr = terminalreporter
    tr.section("DuckDuckGo privacy-reference-tests (network-level agent)")
    suites = list(dict.fromkeys(c.suite for c in CASES))
    total_app = total_na = 0
    for suite in suites:
        cases = [c for c in CASES if c.suite == suite]
        app = sum(c.applicable for c in cases)
        na = len(cases) - app
        total_app += app
        total_na += na
        tr.write_line(
            f"{suite}: applicable {app} (passed {_PASSED[suite]}, failed {_FAILED[suite]}), "
            f"not applicable {na}"
        )
    tr.write_line(
        f"total: applicable {total_app} (passed {sum(_PASSED.values())}, "
        f"failed {sum(_FAILED.values())}), not applicable {total_na}"
    )
    tr.write_line("not applicable, with the reason:")
    for case in CASES:
        if not case.applicable:
            tr.write_line(f"  - {case.id}: {case.reason}")


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG config and data home, so no test touches the real ones."""
    config = tmp_path / "config"
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return config
