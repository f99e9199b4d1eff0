"""Fixtures for the auditor's tests: the loopback fixture web and its hosts.

The browser comes from the suite's ``chromium_executable``. The fixture web has
its own servers rather than ``serve_asgi``: it is started once per session
(every browser test uses the same web) and one of its hosts speaks TLS.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_web import FixtureWeb, HostDispatch, self_signed_cert, serve

from trackpref.audit.hostrules import parse_host_rules


@pytest.fixture(scope="session")
def chromium(chromium_executable: str) -> str:
    """The suite's ``chromium_executable`` (tests/conftest.py), under a short name."""
    return chromium_executable


@pytest.fixture(scope="session")
def fixture_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureWeb]:
    app = HostDispatch()
    certs: Path = tmp_path_factory.mktemp("certs")
    certfile, keyfile = self_signed_cert(certs, ["tls.test"])
    with serve(app) as port, serve(app, certfile=certfile, keyfile=keyfile) as tls_port:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
        sock.close()
        rules = parse_host_rules("MAP nowhere.test ~NOTFOUND, MAP *.test 127.0.0.1")
        yield FixtureWeb(port, tls_port, closed, rules, certfile)
