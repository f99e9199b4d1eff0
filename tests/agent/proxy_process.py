"""Starting a real ``trackpref proxy`` as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@dataclass
class ProxyProcess:
    port: int
    ca: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _pump(stream: object, sink: list[str], seen: threading.Event) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line)
        if _LISTENING.search(line):
            seen.set()


@contextmanager
def running_proxy(directory: Path, preference: Path, *args: str) -> Iterator[ProxyProcess]:
    """``trackpref proxy --listen-port 0`` with ``*.test`` mapped to loopback."""
    confdir = directory / "mitmproxy"
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(directory / "xdg-config")
    env["XDG_DATA_HOME"] = str(directory / "xdg-data")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    cmd = [
        sys.executable,
        "-m",
        "trackpref",
        "proxy",
        "--listen-port",
        "0",
        "--preference",
        str(preference),
        "--confdir",
        str(confdir),
        "--map-host",
        "*.test=127.0.0.1",
        "--set",
        "ssl_insecure=true",
        "--learned-file",
        str(directory / "learned.json"),
        "-v",
        *args,
    ]
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output: list[str] = []
    seen = threading.Event()
    pump = threading.Thread(target=_pump, args=(process.stdout, output, seen), daemon=True)
    pump.start()
    try:
        if not seen.wait(60):
            raise RuntimeError("trackpref proxy did not start:\n" + "".join(output))
        match = next(m for line in output if (m := _LISTENING.search(line)))
        yield ProxyProcess(int(match.group(1)), confdir / "mitmproxy-ca-cert.pem", process, output)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        pump.join(5)
        if process.stdout is not None:
            process.stdout.close()


def wait_until(check: Callable[[], bool], timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
