"""``trackpref audit`` against ``trackpref serve --demo``: the project's own site passes.

Both commands run as real processes, as a verifier and a site owner would run
them: the demo serves the honoring publisher page and the collection service
as its partner, and the auditor visits it in Debian's Chromium in the three
states and checks the declarations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRACKPREF = [sys.executable, "-m", "trackpref"]


def test_audit_reports_serve_demo_compliant(tmp_path: Path, chromium_executable: str) -> None:
    port = free_port()
    env = {**os.environ, "TRACKPREF_ADMIN_TOKEN": "t" * 32}
    server = subprocess.Popen(
        [*TRACKPREF, "serve", "--demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/demo/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "trackpref serve --demo did not start"
            time.sleep(0.2)
        out = tmp_path / "report"
        result = subprocess.run(
            [*TRACKPREF, "audit", base + "/demo/", "--out", str(out), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads((out / "report.json").read_text())
        (site,) = report["sites"]
        verdicts = site["verdicts"]
        assert verdicts["gpc_honored"] is True, verdicts["summary"]
        assert verdicts["dnt_honored"] is True, verdicts["summary"]
        assert verdicts["declarations_valid"] is True, verdicts["summary"]
        assert verdicts["claims_contradicted"] is False, verdicts["summary"]
        assert (out / "report.html").read_text().startswith("<!doctype html")
    finally:
        server.terminate()
        server.wait(timeout=20)
