"""Fixtures for the service tests: an app on a fresh SQLite file, with a known admin token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from trackpref.service import ServiceConfig, create_app
from trackpref.service.runtime import Service

ADMIN = "test-admin-token-0123456789"
BEARER = {"authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Starlette]:
    def make(**changes: Any) -> Starlette:
        config = ServiceConfig(
            db=str(tmp_path / "service.db"),
            admin_token=ADMIN,
            run_jobs=False,
            outbox=str(tmp_path / "outbox"),
            # Process-wide; the one test of it restores the collector itself.
            tune_gc=False,
        ).replace(**changes)
        return create_app(config=config)

    return make


@pytest.fixture
def client(make_app: Callable[..., Starlette]) -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


def service_of(client: TestClient) -> Service:
    app: Any = client.app
    svc = app.state.service
    assert isinstance(svc, Service)
    return svc
