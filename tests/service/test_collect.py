"""``POST /api/collect``, the pixels and the script, through the real app."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from conftest import BEARER, service_of
from trackpref.ledger.storage import StoredEvent

PAGE = {"site": "news.example", "type": "pageview", "url": "https://news.example/story?utm=1"}
UA = {"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0"}


def events(
    client: TestClient, site: str = "news.example", dataset: str = "pageviews"
) -> list[StoredEvent]:
    return list(service_of(client).collector.store_for(site).iter_events(dataset))


def tallies(client: TestClient, site: str = "news.example") -> dict[tuple[str, str], int]:
    rows = service_of(client).tables.tallies(site, since="0000", until="9999")
    out: dict[tuple[str, str], int] = {}
    for _, metric, value, n in rows:
        out[(metric, value)] = out.get((metric, value), 0) + n
    return out


def test_unset_keeps_the_event_with_a_daily_hash_and_no_id(client: TestClient) -> None:
    r = client.post("/api/collect", json={**PAGE, "id": "x" * 24}, headers=UA)
    assert r.status_code == 202, r.text
    # No body: the status is the whole answer (one socket write, not two).
    assert (r.content, r.headers["content-length"]) == (b"", "0")
    assert "content-type" not in r.headers
    assert r.headers["tk"]
    assert r.headers["access-control-allow-origin"] == "*"
    [e] = events(client)
    assert e.subject_ref is None
    assert e.visitor_hash
    assert len(e.visitor_hash) == 32
    assert "visitor_id" not in e.fields, "an id is kept only when the person allows tracking"
    assert e.fields["path"] == "/story"
    assert set(e.fields) == {"type", "path", "referrer_domain", "device", "region"}
    assert e.preference == "unset"


def test_allow_keeps_the_pseudonymous_id(client: TestClient) -> None:
    r = client.post("/api/collect", json={**PAGE, "id": "a" * 24}, headers={"DNT": "0", **UA})
    assert r.status_code == 202
    [e] = events(client)
    assert e.subject_ref == "a" * 24
    assert e.fields["visitor_id"] == "a" * 24
    assert e.preference == "allow"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"DNT": "1"}, {}),
        ({"Sec-GPC": "1"}, {}),
        ({"DNT": "0", "Sec-GPC": "1"}, {}),
        ({}, {"gpc": True}),
        ({}, {"dnt": "1"}),
        ({"DNT": "0"}, {"dnt": "1"}),
    ],
)
def test_do_not_track_is_only_counted(
    client: TestClient, headers: dict[str, str], body: dict[str, object]
) -> None:
    r = client.post("/api/collect", json={**PAGE, "id": "b" * 24, **body}, headers=headers)
    assert r.status_code == 202, r.text
    assert events(client) == [], "no raw event under do-not-track"
    t = tallies(client)
    assert t[("pageviews", "total")] == 1
    assert t[("kept", "counted-only")] == 1
    expected = "gpc" if headers.get("Sec-GPC") or body.get("gpc") else "dnt1"
    assert t[("signal", expected)] == 1


def test_a_granted_exception_lets_the_id_through(client: TestClient) -> None:
    r = client.post(
        "/_trackpref/exceptions",
        json={"op": "store", "data": {}},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 200, r.text
    r = client.post("/api/collect", json={**PAGE, "id": "c" * 24}, headers={"Sec-GPC": "1"})
    assert r.status_code == 202
    assert r.headers["tk"].startswith("C")
    [e] = events(client)
    assert e.subject_ref == "c" * 24


def test_beacon_answers_declare_with_tk_and_carry_nothing_no_cache_or_page_would_use(
    client: TestClient,
) -> None:
    # A 202 to a POST and a no-store GIF are kept by no cache (so no Vary) and
    # load nothing a referrer could leak to (so no Referrer-Policy).
    accepted = client.post("/api/collect", json=PAGE, headers={**UA, "DNT": "1"})
    pixel = client.get("/p.gif", params={"site": "news.example", "url": "/a"}, headers=UA)
    assert accepted.status_code == 202
    assert pixel.status_code == 200
    for r in (accepted, pixel):
        assert r.headers["tk"]
        assert "vary" not in r.headers
        assert "referrer-policy" not in r.headers
    assert "cache-control" not in accepted.headers
    assert pixel.headers["cache-control"] == "no-store"
    # What a cache may keep, or a browser may render, still says what it depends on.
    for path in ("/trackpref.js", "/", "/rights"):
        r = client.get(path)
        assert r.headers["tk"], path
        assert "DNT" in r.headers["vary"], path
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", path


def test_a_batch_is_one_request_and_one_answer(client: TestClient) -> None:
    batch = [{**PAGE, "url": f"/p/{i}"} for i in range(50)]
    r = client.post(
        "/api/collect", content=json.dumps(batch), headers={"content-type": "text/plain"}
    )
    assert r.status_code == 202
    assert (r.content, r.headers["content-length"]) == (b"", "0")
    assert sorted(e.fields["path"] for e in events(client)) == sorted(f"/p/{i}" for i in range(50))


def test_each_site_keeps_its_own_rows_and_counts(client: TestClient) -> None:
    client.post("/api/collect", json={**PAGE, "site": "a.example"})
    client.post("/api/collect", json=[{**PAGE, "site": "b.example"}] * 2)
    assert len(events(client, "a.example")) == 1
    assert len(events(client, "b.example")) == 2
    assert tallies(client, "a.example")[("pageviews", "total")] == 1
    assert tallies(client, "b.example")[("pageviews", "total")] == 2
    stats = client.get("/api/stats?site=a.example", headers=BEARER).json()
    assert stats["pageviews"]["total"] == 1


def test_custom_events_and_dimensions(client: TestClient) -> None:
    client.post(
        "/api/collect",
        json=[
            {**PAGE, "referrer": "https://www.news.bbc.co.uk/x?q=secret"},
            {**PAGE, "type": "signup", "props": {"plan": "pro"}},
        ],
        headers={**UA, "accept-language": "de-AT,de;q=0.9"},
    )
    t = tallies(client)
    assert t[("referrer", "bbc.co.uk")] == 1
    assert t[("event", "signup")] == 1
    assert t[("device", "desktop")] == 1
    assert t[("os", "windows")] == 1
    assert t[("region", "AT")] == 1
    assert t[("adoption", "desktop|unset")] == 1
    signup = [e for e in events(client) if e.fields["type"] == "signup"]
    assert json.loads(signup[0].fields["props"]) == {"plan": "pro"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"site": "news.example"}', 400, "type"),
        (b"not json", 400, "body"),
        (json.dumps([PAGE] * 501).encode(), 413, "body"),
        # Nesting deeper than json.loads can recurse: still a 400, never a 500.
        (b"[" * 20_000, 400, "body"),
        (b'{"site": "a.example", "url": "/", "props": ' + b'{"a":' * 5_000, 400, "body"),
    ],
)
def test_bad_requests_store_nothing(
    client: TestClient, body: bytes, status: int, field: str
) -> None:
    r = client.post("/api/collect", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.json()["field"] == field
    assert r.headers["tk"], "Tk on every response, errors included"
    assert events(client) == []
    assert tallies(client) == {}


def test_one_bad_event_refuses_the_whole_array(client: TestClient) -> None:
    r = client.post("/api/collect", json=[PAGE, {**PAGE, "url": "ftp://x"}, PAGE])
    assert r.status_code == 400
    assert r.json()["field"] == "events[1].url"
    assert events(client) == []


def test_bodies_are_capped_while_they_are_read(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app(max_body=2048)) as client:
        big = json.dumps([{**PAGE, "url": "/" + "a" * 1000}] * 3).encode()
        r = client.post("/api/collect", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["field"] == "body"

        def chunks() -> object:  # no Content-Length: the cap must hold while streaming
            for _ in range(10):
                yield b" " * 1000

        r = client.post("/api/collect", content=chunks(), headers={"content-type": "text/plain"})
        assert r.status_code == 413
        assert events(client) == []


def test_unsupported_types_and_methods(client: TestClient) -> None:
    r = client.post("/api/collect", content=b"<x/>", headers={"content-type": "application/xml"})
    assert r.status_code == 415
    assert r.json()["field"] == "content-type"
    r = client.options("/api/collect")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert client.get("/api/collect").status_code == 405


def test_overload_answers_503_with_retry_after_and_stores_nothing(
    make_app: Callable[..., Starlette],
) -> None:
    with TestClient(make_app(max_queued=3)) as client:
        svc = service_of(client)
        release = threading.Event()
        real = svc.committer._commit

        def slow(batch: list[object]) -> None:
            release.wait(10)
            real(batch)  # type: ignore[arg-type]

        svc.committer._commit = slow  # type: ignore[assignment]
        results: list[int] = []

        def send() -> None:
            results.append(client.post("/api/collect", json=[PAGE] * 3).status_code)

        first = threading.Thread(target=send)
        first.start()
        for _ in range(200):
            if svc.committer.queued:
                break
            threading.Event().wait(0.01)
        r = client.post("/api/collect", json=PAGE)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]
        release.set()
        first.join(10)
        assert results == [202]
        assert len(events(client)) == 3


def test_a_failed_commit_answers_503_and_keeps_nothing(client: TestClient) -> None:
    svc = service_of(client)

    def broken(batch: list[object]) -> None:
        raise RuntimeError("disk on fire")

    real = svc.committer._commit
    svc.committer._commit = broken  # type: ignore[assignment]
    r = client.post("/api/collect", json=PAGE)
    assert r.status_code == 503
    svc.committer._commit = real
    assert events(client) == []
    assert client.post("/api/collect", json=PAGE).status_code == 202


def test_email_opens_honor_the_mail_clients_dnt(client: TestClient) -> None:
    r = client.get("/o/spring-letter/tok_abcdefgh12.gif", headers={"DNT": "1"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/gif"
    assert r.content.startswith(b"GIF89a")
    assert events(client, "mail.localhost", "email_opens") == [], "no per-recipient record"
    r = client.get("/o/spring-letter/tok_zyxwvuts98.gif")
    assert r.status_code == 200
    [e] = events(client, "mail.localhost", "email_opens")
    assert e.fields["recipient"] == "tok_zyxwvuts98"
    t = tallies(client, "mail.localhost")
    assert t[("opens", "spring-letter")] == 2
    assert t[("opens_signal", "spring-letter|dnt1")] == 1
    assert client.get("/o/Bad Campaign/tok_abcdefgh12.gif").status_code == 400
    assert client.get("/o/ok/short.gif").json()["field"] == "token"


def test_the_no_js_pixel(client: TestClient) -> None:
    r = client.get(
        "/p.gif?site=news.example&ref=https://forum.example/t/1",
        headers={"referer": "https://news.example/page?x=1"},
    )
    assert r.status_code == 200
    assert r.content.startswith(b"GIF89a")
    [e] = events(client)
    assert e.fields["path"] == "/page"
    assert e.fields["referrer_domain"] == "forum.example"
    r = client.get("/p.gif")
    assert r.status_code == 400
    assert r.json()["field"] == "site"


@pytest.mark.parametrize(
    "path",
    [
        "/p.gif?site=news.example" + "&x=1" * 16,  # more fields than parse_qs is allowed
        "/o/spring/tok_abcdefgh12.gif?" + "&".join(f"k{i}=1" for i in range(17)),
    ],
)
def test_pixels_with_too_many_query_fields_are_refused(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert r.json() == {"error": "query: more than 16 fields", "field": "query"}
    assert events(client) == []


def test_raw_bytes_beyond_ascii_in_a_pixel_query_are_read_as_utf8() -> None:
    from trackpref.service.collect import _query

    assert _query({"query_string": b"site=ex\xc3\xa4mple.example"}) == {
        "site": "ex\u00e4mple.example"
    }
    assert _query({"query_string": b"site=ex\xe4mple.example"}) == {
        "site": "ex\ufffdmple.example"  # not UTF-8: refused by the site check
    }


def test_the_script(client: TestClient) -> None:
    r = client.get("/trackpref.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    js = r.text
    assert "navigator" in js
    assert "globalPrivacyControl" in js
    assert "doNotTrack" in js
    assert "sendBeacon" in js
    assert "import " not in js, "no dependencies"
    assert "require(" not in js, "no dependencies"
    assert len(r.content) < 8192, "small"


def test_site_allowlist(make_app: Callable[..., Starlette]) -> None:
    with TestClient(make_app(sites=("news.example",))) as client:
        assert client.post("/api/collect", json=PAGE).status_code == 202
        r = client.post("/api/collect", json={**PAGE, "site": "other.example"})
        assert r.status_code == 400
        assert r.json()["field"] == "site"


def test_declarations_of_the_service(client: TestClient) -> None:
    assert client.get("/.well-known/gpc.json").json()["gpc"] is True
    tsr = client.get("/.well-known/dnt/")
    assert tsr.status_code == 200
    assert tsr.json()["tracking"] == "?"
    for path in ("/trackpref.js", "/openapi.json", "/healthz", "/rights", "/dashboard", "/nope"):
        assert client.get(path, follow_redirects=False).headers.get("tk"), path


def test_a_pixel_read_from_a_junk_referer_names_the_header(client: TestClient) -> None:
    r = client.get("/p.gif?site=news.example", headers={"referer": "javascript:alert(1)"})
    assert r.status_code == 400
    assert r.json()["field"] == "referer"
    r = client.get("/p.gif?site=news.example&url=javascript:x")
    assert r.status_code == 400
    assert r.json()["field"] == "url"
