"""Fixtures for the ledger tests: one store suite, two real backends.

``store`` runs every test that uses it on SQLite (a file under ``tmp_path``)
and on PostgreSQL (the ``postgres_dsn`` fixture from ``tests/conftest.py``:
a fresh empty database on a server the tests start).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_loopback import smtp_server, webhook_server

from trackpref.ledger.storage import Store, open_store

__all__ = ["smtp_server", "webhook_server"]

SITE = "news.example"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    dsn = request.getfixturevalue("postgres_dsn")
    assert isinstance(dsn, str)
    return dsn


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url, site=SITE)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "ledger.db", site=SITE)
    try:
        yield s
    finally:
        s.close()
