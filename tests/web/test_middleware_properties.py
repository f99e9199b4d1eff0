"""Property tests: no request header value makes either adapter fail.

Header values come from the network; the middleware must answer every one
with the spec's behaviour, never a 500. The apps are driven in-process (no
HTTP client), so hypothesis can try thousands of raw byte values, including
ones no client library would send.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackpref import PreferenceMiddleware, WSGIPreferenceMiddleware
from trackpref.signals.decisions import Decision
from trackpref.web.asgi import SCOPE_KEY
from trackpref.web.consent import CONSENT_COOKIE
from trackpref.web.wsgi import ENVIRON_DECISION

NAMES = [b"dnt", b"sec-gpc", b"cookie", b"host", b"referer", b"origin", b"sec-fetch-site"]
# Header values are octets; HTTP/1.1 servers pass anything but CR/LF/NUL through.
values = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
cookie_values = st.builds(
    lambda v: CONSENT_COOKIE.encode() + b"=" + v,
    st.binary(max_size=80).filter(lambda b: b";" not in b),
)
headers = st.lists(st.tuples(st.sampled_from(NAMES), st.one_of(values, cookie_values)), max_size=8)
paths = st.sampled_from(
    [
        "/",
        "/.well-known/dnt/",
        "/.well-known/dnt/x",
        "/.well-known/gpc.json",
        "/_trackpref/exceptions.js",
    ]
)


async def _ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert isinstance(scope[SCOPE_KEY], Decision)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


ASGI = PreferenceMiddleware(_ok_app)


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    assert isinstance(environ[ENVIRON_DECISION], Decision)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


WSGI = WSGIPreferenceMiddleware(_wsgi_app)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(headers=headers, path=paths)
def test_asgi_answers_every_header_value(headers: list[tuple[bytes, bytes]], path: str) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "scheme": "http"}
    asyncio.run(ASGI(scope, receive, send))
    start = sent[0]
    assert start["status"] in (200, 404)
    tks = [v for k, v in start["headers"] if k == b"tk"]
    assert len(tks) == 1


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(headers=headers, path=paths)
def test_wsgi_answers_every_header_value(headers: list[tuple[bytes, bytes]], path: str) -> None:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "wsgi.url_scheme": "http",
    }
    for name, value in headers:
        key = "HTTP_" + name.decode().upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    statuses: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append((status, hdrs))
        return None

    body = b"".join(WSGI(environ, start_response))
    status, hdrs = statuses[0]
    assert status.split()[0] in ("200", "404")
    assert body
    assert len([v for k, v in hdrs if k.lower() == "tk"]) == 1
