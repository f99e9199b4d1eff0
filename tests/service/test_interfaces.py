"""OpenAPI covers every API route and is valid; metrics; structured logs."""

from __future__ import annotations

import io
import json
import logging

from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from conftest import BEARER
from trackpref.service.logs import JSONFormatter, configure_logging
from trackpref.service.openapi import API_PATHS, openapi_document

#: Routes that are pages for people, not API: HTML, forms and redirects.
PAGES = ("/", "/privacy", "/dashboard", "/admin/", "/rights", "/demo/")


def test_the_document_is_valid_openapi(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    validate(doc)
    assert doc == json.loads(json.dumps(openapi_document()))


def test_every_api_route_is_documented(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    served: dict[str, set[str]] = {}
    for route in client.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        path = route.path
        if path == "/" or path.startswith(PAGES[1:]):
            continue
        methods = {m.lower() for m in (route.methods or ())} - {"head"}
        served.setdefault(path, set()).update(methods)
    assert served, "no API route found"
    for path, methods in served.items():
        assert path in doc["paths"], f"{path} is served but not in /openapi.json"
        assert methods <= set(doc["paths"][path]), f"{path}: {methods} not all documented"
    assert set(API_PATHS) == set(served), "API_PATHS is out of step with the app"


def test_metrics_need_the_token_and_say_nothing_personal(client: TestClient) -> None:
    client.post("/api/collect", json={"site": "news.example", "type": "pageview", "url": "/p"})
    client.post(
        "/api/collect",
        json={"site": "news.example", "type": "pageview", "url": "/p"},
        headers={"DNT": "1"},
    )
    client.post("/api/collect", content=b"{", headers={"content-type": "application/json"})
    assert client.get("/metrics").status_code == 401
    r = client.get("/metrics", headers=BEARER)
    assert r.status_code == 200
    text = r.text
    assert 'trackpref_collect_requests_total{endpoint="collect",status="202"} 2.0' in text
    assert 'trackpref_collect_requests_total{endpoint="collect",status="400"} 1.0' in text
    assert 'trackpref_events_total{kept="counted-only"} 1.0' in text
    assert "trackpref_ingest_commit_seconds_bucket" in text
    assert "trackpref_ingest_queued_events" in text
    assert "news.example" not in text
    assert "/p" not in text.replace("/plain", "")


def test_logs_are_json_lines_without_addresses(client: TestClient) -> None:
    stream = io.StringIO()
    configure_logging("info", stream)
    try:
        client.get("/rights/inventory?email=me@example.org", headers={"user-agent": "SecretUA/1.0"})
        client.post("/api/collect", json={"site": "news.example", "type": "pageview", "url": "/p"})
        client.post("/api/collect", content=b"[]", headers={"content-type": "application/json"})
    finally:
        for name in ("trackpref", "uvicorn", "uvicorn.error"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [entry for entry in lines if entry["msg"] == "request"]
    assert {(e["path"], e["status"]) for e in requests} == {
        ("/rights/inventory", 200),
        ("/api/collect", 400),
    }, "successful collects are counted, not logged"
    for entry in requests:
        assert set(entry) == {"ts", "level", "logger", "msg", "method", "path", "status", "ms"}
    raw = stream.getvalue()
    assert "SecretUA" not in raw
    assert "me@example.org" not in raw
    assert "testclient" not in raw


def test_the_formatter_keeps_extras_and_exceptions() -> None:
    record = logging.LogRecord(
        "trackpref.x", logging.ERROR, __file__, 1, "boom %s", ("here",), None
    )
    record.job = "rollup"
    try:
        raise ValueError("inner")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    out = json.loads(JSONFormatter().format(record))
    assert out["msg"] == "boom here"
    assert out["job"] == "rollup"
    assert "ValueError" in out["exc"]
