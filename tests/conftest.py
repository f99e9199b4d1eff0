"""Fixtures shared by the whole suite: real servers, real browsers, real databases.

- ``postgres_server`` (session) / ``postgres_dsn`` (a fresh empty database per test)
- ``chromium_executable`` (session): Debian's chromium, or a failure saying how to get it
- ``serve_asgi(app) -> base_url`` / ``serve_wsgi(app) -> base_url``: loopback servers
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.browser import chromium_path
from support.postgres import PostgresServer
from support.servers import AsgiServer, WsgiServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `make test` as root to install it")
    return path


@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    servers: list[AsgiServer] = []

    def start(app: Any) -> str:
        server = AsgiServer(app)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    servers: list[WsgiServer] = []

    def start(app: Any) -> str:
        server = WsgiServer(app)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
