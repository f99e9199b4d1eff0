"""The shared fixtures work: a real PostgreSQL, real Chromium, real servers on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from support.browser import BASE_ARGS, LOOPBACK_TEST_HOSTS, browser_args, launch_chromium
from support.postgres import PostgresServer

Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

PAGE = b"""<!doctype html><title>echo</title><body>
<pre id="gpc"></pre><script>
document.getElementById("gpc").textContent = String(navigator.globalPrivacyControl);
</script>"""


async def echo_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """``/`` is a page; ``/headers`` echoes the request headers as JSON."""
    if scope["type"] == "lifespan":
        while True:
            event = (await receive())["type"]  # lifespan.startup, then lifespan.shutdown
            await send({"type": event + ".complete"})
            if event == "lifespan.shutdown":
                return
    if scope["path"] == "/headers":
        headers: dict[str, str] = {k.decode(): v.decode() for k, v in scope["headers"]}
        body, ctype = json.dumps(headers).encode(), b"application/json"
    else:
        body, ctype = PAGE, b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", ctype), (b"x-echo-path", scope["path"].encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- PostgreSQL --------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_dsn_is_a_fresh_real_database(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        conn.commit()
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT id, v FROM t ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
        # Durability is not traded for speed: the durability tests rely on it.
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert conn.execute("SHOW full_page_writes").fetchone() == ("on",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SHOW server_version_num").fetchone()[0] >= "150000"  # type: ignore[index]


@pytest.mark.postgres
def test_postgres_databases_are_fresh_per_test(postgres_dsn: str) -> None:
    # The table made by the test above is not here: each test gets its own database.
    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert rows == (0,)


@pytest.mark.postgres
def test_postgres_dsn_carries_credentials(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    url = urlsplit(postgres_dsn)
    assert url.scheme == "postgresql"
    assert (url.hostname, url.port) == ("127.0.0.1", postgres_server.port)
    assert url.username == PostgresServer.USER
    assert url.password
    # The password is checked on TCP: a wrong one is refused.
    wrong = postgres_dsn.replace(f":{url.password}@", ":wrong@")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)


@pytest.mark.postgres
def test_postgres_create_database_by_name(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.create_database("fixture_named_db")
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("fixture_named_db",)
        with pytest.raises(ValueError, match="database name 'Bad-Name'"):
            postgres_server.create_database("Bad-Name")
    finally:
        postgres_server.drop_database("fixture_named_db")
    with psycopg.connect(postgres_server.dsn) as conn:
        names = conn.execute("SELECT datname FROM pg_database").fetchall()
    assert ("fixture_named_db",) not in names


# -- loopback servers --------------------------------------------------------------


def test_serve_asgi_answers_over_a_real_socket(serve_asgi: Callable[[Any], str]) -> None:
    base = serve_asgi(echo_app)
    assert urlsplit(base).hostname == "127.0.0.1"
    response = httpx.get(base + "/headers", headers={"DNT": "1"})
    assert response.status_code == 200
    assert response.json()["dnt"] == "1"
    assert response.headers["x-echo-path"] == "/headers"


def test_serve_asgi_runs_several_apps_at_once(serve_asgi: Callable[[Any], str]) -> None:
    first, second = serve_asgi(echo_app), serve_asgi(echo_app)
    assert first != second
    assert httpx.get(first + "/a").headers["x-echo-path"] == "/a"
    assert httpx.get(second + "/b").headers["x-echo-path"] == "/b"


def test_serve_wsgi(serve_wsgi: Callable[[Any], str]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("HTTP_DNT", "-").encode()]

    base = serve_wsgi(app)
    assert urlsplit(base).hostname == "127.0.0.1"
    assert httpx.get(base + "/", headers={"DNT": "1"}).text == "1"
    assert httpx.get(base + "/").text == "-"


# -- Chromium ----------------------------------------------------------------------


def test_browser_args_carry_the_standard_flags() -> None:
    assert browser_args() == list(BASE_ARGS)
    assert "--headless=new" in BASE_ARGS
    assert "--no-sandbox" in BASE_ARGS
    args = browser_args(gpc=True, host_rules=LOOPBACK_TEST_HOSTS, extra_args=["--lang=en"])
    assert "--enable-features=GlobalPrivacyControl,GlobalPrivacyControlForce" in args
    assert "--host-resolver-rules=MAP *.test 127.0.0.1" in args
    assert args[-1] == "--lang=en"


@pytest.mark.browser
def test_chromium_sends_no_gpc_by_default(
    serve_asgi: Callable[[Any], str], chromium_executable: str
) -> None:
    base = serve_asgi(echo_app)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            response = page.goto(base + "/")
            assert response is not None
            assert response.ok
            assert response.headers["x-echo-path"] == "/"
            headers = page.evaluate("fetch('/headers').then(r => r.json())")
            assert "sec-gpc" not in headers
            assert "HeadlessChrome" in headers["user-agent"]
            assert page.evaluate("navigator.globalPrivacyControl") is not True
        finally:
            browser.close()
    assert chromium_executable.endswith("chromium")


@pytest.mark.browser
def test_chromium_with_gpc_on_test_hosts(
    serve_asgi: Callable[[Any], str], chromium_executable: str
) -> None:
    base = serve_asgi(echo_app)
    port = urlsplit(base).port
    with sync_playwright() as pw:
        browser = launch_chromium(pw, gpc=True, host_rules=LOOPBACK_TEST_HOSTS)
        try:
            page = browser.new_page()
            # A *.test name resolves to the loopback server.
            page.goto(f"http://site.example.test:{port}/")
            assert page.evaluate("navigator.globalPrivacyControl") is True
            assert page.locator("#gpc").inner_text() == "true"
            headers = page.evaluate("fetch('/headers').then(r => r.json())")
            assert headers["sec-gpc"] == "1"
            assert headers["host"] == f"site.example.test:{port}"
            # The navigation itself carried the header too.
            nav = page.goto(f"http://other.test:{port}/headers")
            assert nav is not None
            assert nav.json()["sec-gpc"] == "1"
        finally:
            browser.close()
