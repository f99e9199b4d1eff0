"""Fixtures shared by the whole suite: real servers, real browsers, real databases.

- ``postgres_server`` (session): a PostgreSQL the tests start themselves;
  ``.dsn`` and ``.create_database(name=None) -> dsn``.
- ``postgres_dsn``: the URL of a fresh, empty database for one test.
- ``chromium_executable`` (session): the path of Debian's chromium; the test
  fails (it is not skipped) when it is missing.
- ``serve_asgi(app) -> base_url`` / ``serve_wsgi(app) -> base_url``: run an
  app on 127.0.0.1 until the test ends.

Helpers that are not fixtures live in ``tests/support`` (``from support.browser
import launch_chromium``). Hypothesis runs without deadlines (profile
``trackpref``; ``ci`` when ``CI`` is set). See docs/development.md.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

from support.browser import NOT_INSTALLED, chromium_path
from support.postgres import PostgresServer
from support.servers import AsgiServer, WsgiServer

# Hypothesis's per-example deadline is a timing assertion, and timings on a
# shared 2-core machine are noise: no deadline. In CI, also print the blob that
# reproduces a failure and do not fail because data generation was slow.
settings.register_profile("trackpref", deadline=None)
settings.register_profile(
    "ci",
    parent=settings.get_profile("trackpref"),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "trackpref")
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (fsync on, 127.0.0.1, password auth)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database for this test, dropped afterwards."""
    hint = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{hint}_{uuid.uuid4().hex[:12]}"
    dsn = postgres_server.create_database(name)
    yield dsn
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The path of Debian's chromium, for Playwright's ``executable_path``."""
    path = chromium_path()
    if path is None:
        pytest.fail(NOT_INSTALLED)
    return path


@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    """``serve_asgi(app)`` runs ``app`` under uvicorn and returns its base URL."""
    servers: list[AsgiServer] = []

    def start(app: Any) -> str:
        server = AsgiServer(app)
        servers.append(server)
        return server.start()

    yield start
    _stop_all(servers)


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    """``serve_wsgi(app)`` runs ``app`` under wsgiref (threaded) and returns its base URL."""
    servers: list[WsgiServer] = []

    def start(app: Any) -> str:
        server = WsgiServer(app)
        servers.append(server)
        return server.start()

    yield start
    _stop_all(servers)


def _stop_all(servers: Sequence[AsgiServer | WsgiServer]) -> None:
    """Stop every server, even when one of them fails to stop, then report the first failure."""
    errors: list[BaseException] = []
    for server in reversed(servers):
        try:
            server.stop()
        except Exception as exc:  # every server must get its stop()
            errors.append(exc)
    if errors:
        raise errors[0]
