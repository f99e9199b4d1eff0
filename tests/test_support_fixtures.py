"""The shared fixtures work: a real PostgreSQL, real servers on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest


@pytest.mark.postgres
def test_postgres_dsn_is_a_fresh_real_database(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'a')")
        assert conn.execute("SELECT v FROM t").fetchall() == [("a",)]
        assert conn.execute("SHOW fsync").fetchone() == ("on",)


@pytest.mark.postgres
def test_postgres_databases_are_isolated(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert rows == (0,)


def test_serve_wsgi(serve_wsgi: Callable[[Any], str]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("HTTP_DNT", "-").encode()]

    base = serve_wsgi(app)
    assert httpx.get(base + "/", headers={"DNT": "1"}).text == "1"
