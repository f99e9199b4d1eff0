"""The admin side: who may see it, login and CSRF, charts, and escaping of collected data."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import ADMIN, BEARER, service_of
from trackpref.service import ServiceConfig, create_app

PAGE = {"site": "news.example", "type": "pageview", "url": "/"}


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    p = Elements()
    p.feed(html)
    p.close()
    return p.tags


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


@pytest.mark.parametrize("path", ["/api/stats", "/api/stats?site=news.example", "/metrics"])
def test_admin_apis_refuse_without_the_token(client: TestClient, path: str) -> None:
    client.post("/api/collect", json=PAGE)
    assert client.get(path).status_code == 401
    assert (
        client.get(path, headers={"authorization": "Bearer wrong-token-123456"}).status_code == 401
    )
    assert client.get(path, headers={"authorization": f"Basic {ADMIN}"}).status_code == 401
    forged = {"cookie": "tp_admin=9999999999.nonce.forged"}
    assert client.get(path, headers=forged).status_code == 401
    assert client.get(path, headers=BEARER).status_code == 200


def test_the_dashboard_sends_strangers_to_the_login(client: TestClient) -> None:
    r = client.get("/dashboard?site=news.example", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/admin/login?next=%2Fdashboard")
    assert "news.example" not in client.get("/admin/login").text.split("<form")[0]


def test_login_needs_the_csrf_token_and_the_admin_token(client: TestClient) -> None:
    form = client.get("/admin/login?next=/dashboard")
    csrf = csrf_of(form.text)
    r = client.post("/admin/login", data={"token": ADMIN}, follow_redirects=False)
    assert r.status_code == 403, "no CSRF token"
    r = client.post(
        "/admin/login", data={"token": ADMIN, "csrf": "x" + csrf}, follow_redirects=False
    )
    assert r.status_code == 403, "a wrong CSRF token"
    r = client.post("/admin/login", data={"token": "nope", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 401
    assert "tp_admin" not in r.headers.get("set-cookie", "")
    r = client.post(
        "/admin/login",
        data={"token": ADMIN, "csrf": csrf, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard", "no open redirect"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Dashboard" in page.text
    assert client.get("/api/stats").status_code == 200, "the session works for the JSON too"
    # Logging out needs the session's CSRF token.
    assert client.post("/admin/logout", data={"csrf": "forged"}).status_code == 403
    r = client.post("/admin/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    assert client.get("/api/stats").status_code == 401


def test_a_generated_token_is_shown_once_and_stored_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKPREF_ADMIN_TOKEN", raising=False)
    cfg = ServiceConfig(db=str(tmp_path / "s.db"), run_jobs=False)
    with TestClient(create_app(config=cfg)) as c:
        token = c.app.state.service.new_admin_token  # type: ignore[attr-defined]
        assert token
        assert len(token) >= 40
        assert c.get("/api/stats", headers={"authorization": f"Bearer {token}"}).status_code == 200
        dump = repr(service_of(c).tables.dump_table("service_secrets"))
        assert token not in dump
    with TestClient(create_app(config=cfg)) as c:
        assert c.app.state.service.new_admin_token is None  # type: ignore[attr-defined]
        assert c.get("/api/stats", headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_the_environment_token_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKPREF_ADMIN_TOKEN", "from-the-environment-1234")
    with TestClient(
        create_app(config=ServiceConfig(db=str(tmp_path / "e.db"), run_jobs=False))
    ) as c:
        ok = {"authorization": "Bearer from-the-environment-1234"}
        assert c.get("/api/stats", headers=ok).status_code == 200
    monkeypatch.setenv("TRACKPREF_ADMIN_TOKEN", "short")
    with pytest.raises(ValueError, match="admin token"):
        create_app(config=ServiceConfig(db=str(tmp_path / "e.db"), run_jobs=False))


def test_stats_shape_and_signal_shares(client: TestClient) -> None:
    ua_mobile = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile/15E148"}
    ua_desktop = {"user-agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0"}
    client.post("/api/collect", json=PAGE, headers={"Sec-GPC": "1", **ua_mobile})
    client.post("/api/collect", json=PAGE, headers={"DNT": "1", **ua_desktop})
    client.post("/api/collect", json=PAGE, headers={"DNT": "0", **ua_desktop})
    client.post("/api/collect", json=PAGE, headers=ua_desktop)
    s = client.get("/api/stats?site=news.example&days=7", headers=BEARER).json()
    assert s["pageviews"]["total"] == 4
    assert s["signals"]["counts"] == {"gpc": 1, "dnt1": 1, "dnt0": 1, "unset": 1}
    assert s["signals"]["shares"]["gpc"] == pytest.approx(0.25)
    assert s["signals"]["by_platform"]["mobile"]["shares"]["gpc"] == 1.0
    assert s["signals"]["by_platform"]["desktop"]["total"] == 3
    assert s["kept"] == {"with-id": 0, "raw": 2, "counted-only": 2}
    assert len(s["pageviews"]["by_day"]) == 7
    assert client.get("/api/stats?days=0", headers=BEARER).status_code == 400
    assert client.get("/api/stats?site=<x>", headers=BEARER).json()["field"] == "site"
    assert client.get("/api/stats?site=unknown.example", headers=BEARER).status_code == 404
    assert client.get("/api/stats", headers=BEARER).json() == {"sites": ["news.example"]}


def test_the_dashboard_draws_its_charts(client: TestClient) -> None:
    for h in ({"Sec-GPC": "1"}, {}, {"DNT": "1"}):
        client.post("/api/collect", json=PAGE, headers=h)
    html = client.get("/dashboard?site=news.example", headers=BEARER).text
    tags = elements(html)
    svgs = [dict(a) for t, a in tags if t == "svg"]
    assert {s.get("id") for s in svgs} >= {"chart-pageviews", "chart-signals"}
    signals = html.split('id="chart-signals"')[1].split("</svg>")[0]
    assert signals.count("<rect") >= 1 + 4 + 2, "background, legend and at least two segments"
    assert "33%" in signals
    assert "<script" not in html, "charts need no script"
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", ""), "no CDN"


XSS = [
    "/<script>alert(1)</script>",
    '/"><img src=x onerror=alert(1)>',
    "/</svg><script>alert(2)</script>",
    "/'onmouseover='alert(3)",
    "/<!--<script>-->",
    "/&lt;script&gt;",
]


def test_collected_values_render_inert_on_the_dashboard(client: TestClient) -> None:
    for payload in XSS:
        r = client.post("/api/collect", json={**PAGE, "url": payload})
        assert r.status_code == 202, r.text
    # Every other collected field refuses markup outright; none of it may get in either.
    attempts = [
        {**PAGE, "site": "<script>.example"},
        {**PAGE, "type": "<script>"},
        {**PAGE, "referrer": "https://<script>alert(1)</script>/"},
        {**PAGE, "type": "x", "props": {"<b>": 1}},
    ]
    for event in attempts:
        assert client.post("/api/collect", json=event).status_code == 400
    client.post("/api/collect", json={**PAGE, "props": {"k": "<script>alert(4)</script>"}})
    client.get("/o/camp/tok<script>x.gif")
    client.post(
        "/api/collect",
        json=PAGE,
        headers={
            "user-agent": "<script>alert(5)</script>",
            "accept-language": '"><script>alert(6)</script>',
            "referer": "<script>alert(7)</script>",
        },
    )
    html = client.get("/dashboard?site=news.example", headers=BEARER).text
    tags = elements(html)
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed")]
    handlers = [(t, k) for t, attrs in tags for k, _ in attrs if k.startswith("on")]
    assert handlers == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "shown as text"
    stats = client.get("/api/stats?site=news.example", headers=BEARER).json()
    assert any("<script>" in p for p, _ in stats["paths"]), "the JSON keeps the value as data"


def test_error_pages_escape_what_they_echo(client: TestClient) -> None:
    r = client.get("/dashboard?site=%3Cscript%3Ealert(1)%3C/script%3E", headers=BEARER)
    assert r.status_code == 400
    assert "<script>" not in r.text


@pytest.mark.parametrize("days", ["\u00b2", "9" * 5000, "0", "abc", "-1", "401", ""])
def test_a_bad_days_is_400_on_the_api_and_the_page(client: TestClient, days: str) -> None:
    client.post("/api/collect", json=PAGE)
    r = client.get("/api/stats", params={"site": "news.example", "days": days}, headers=BEARER)
    assert r.status_code == 400
    assert r.json()["field"] == "days"
    r = client.get("/dashboard", params={"days": days}, headers=BEARER)
    assert r.status_code == 400
    assert "days: a whole number from 1 to 400" in r.text


def test_an_unknown_site_is_404_on_the_api_and_the_page(client: TestClient) -> None:
    client.post("/api/collect", json=PAGE)
    assert client.get("/api/stats?site=other.example", headers=BEARER).status_code == 404
    r = client.get("/dashboard?site=other.example", headers=BEARER)
    assert r.status_code == 404
    assert "site: no data for other.example" in r.text
    assert client.get("/dashboard?site=news.example", headers=BEARER).status_code == 200


def test_the_login_route_names_both_its_methods(client: TestClient) -> None:
    r = client.put("/admin/login")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}
    assert "Tk" in r.headers
