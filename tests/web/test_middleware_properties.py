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
from trackpref.signals.decisions import Decision, PartyRole
from trackpref.signals.errors import SignalError
from trackpref.signals.parties import PartyMap, classify_request
from trackpref.web.asgi import SCOPE_KEY
from trackpref.web.consent import CONSENT_COOKIE
from trackpref.web.wsgi import ENVIRON_DECISION

NAMES = [
    b"dnt",
    b"sec-gpc",
    b"cookie",
    b"host",
    b"referer",
    b"origin",
    b"sec-fetch-site",
    b"sec-fetch-dest",
]
PARTIES = PartyMap(
    first_party=("example.com",),
    same_party=("example-cdn.net",),
    service_providers=("metrics.provider.example",),
)
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
ASGI_PARTIES = PreferenceMiddleware(_ok_app, parties=PARTIES)


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    assert isinstance(environ[ENVIRON_DECISION], Decision)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


WSGI = WSGIPreferenceMiddleware(_wsgi_app)
WSGI_PARTIES = WSGIPreferenceMiddleware(_wsgi_app, parties=PARTIES)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(headers=headers, path=paths, middleware=st.sampled_from([ASGI, ASGI_PARTIES]))
def test_asgi_answers_every_header_value(
    headers: list[tuple[bytes, bytes]], path: str, middleware: PreferenceMiddleware
) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "scheme": "http"}
    asyncio.run(middleware(scope, receive, send))
    start = sent[0]
    assert start["status"] in (200, 404)
    tks = [v for k, v in start["headers"] if k == b"tk"]
    assert len(tks) == 1


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(headers=headers, path=paths, middleware=st.sampled_from([WSGI, WSGI_PARTIES]))
def test_wsgi_answers_every_header_value(
    headers: list[tuple[bytes, bytes]], path: str, middleware: WSGIPreferenceMiddleware
) -> None:
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

    body = b"".join(middleware(environ, start_response))
    status, hdrs = statuses[0]
    assert status.split()[0] in ("200", "404")
    assert body
    assert len([v for k, v in hdrs if k.lower() == "tk"]) == 1


# -- the party role is the core's, on every path of both adapters ---------------

hosts = st.sampled_from(
    [
        "tracker.example.net",
        "www.example.com",
        "static.example-cdn.net",
        "metrics.provider.example",
        "metrics.provider.example:8443",
        "",
        "bad host",
    ]
)
initiators = st.sampled_from(
    [
        "https://www.example.com",
        "https://news.example.org/story?q=1",
        "http://static.example-cdn.net:8080/x",
        "https://metrics.provider.example",
        "https://cdn.example.net/",
        "null",
        "not a url",
    ]
)
fetch_sites = st.sampled_from(["same-origin", "same-site", "none", "cross-site", "cross-site "])
fetch_dests = st.sampled_from(["document", "image", "iframe", "script", "empty"])


def _core_role(
    parties: PartyMap | None,
    host: str,
    site: str | None,
    dest: str | None,
    origin: str | None,
    referer: str | None,
) -> PartyRole:
    """What the core says; without a usable Host, what Fetch Metadata says."""
    try:
        return classify_request(
            host=host,
            sec_fetch_site=site,
            # Sec-Fetch-Dest: document is only ever sent on top-level navigations.
            sec_fetch_mode="navigate" if (dest or "").strip() == "document" else None,
            sec_fetch_dest=dest,
            origin=origin,
            referer=referer,
            parties=parties,
        ).role
    except SignalError:
        third = (site or "").strip() == "cross-site" and (dest or "").strip() != "document"
        return PartyRole.THIRD_PARTY if third else PartyRole.FIRST_PARTY


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    with_parties=st.booleans(),
    host=hosts,
    site=st.none() | fetch_sites,
    dest=st.none() | fetch_dests,
    origin=st.none() | initiators,
    referer=st.none() | initiators,
    consent=st.booleans(),
)
def test_both_adapters_take_the_role_from_the_core(
    with_parties: bool,
    host: str,
    site: str | None,
    dest: str | None,
    origin: str | None,
    referer: str | None,
    consent: bool,
) -> None:
    """Fast path, classified path and consent path all agree with classify_request."""
    parties = PARTIES if with_parties else None
    expected = _core_role(parties, host, site, dest, origin, referer)
    given_headers = {
        "host": host,
        "dnt": "1",
        "sec-fetch-site": site,
        "sec-fetch-dest": dest,
        "origin": origin,
        "referer": referer,
        # A well-formed id the store does not know: the consent path, no exception.
        "cookie": f"{CONSENT_COOKIE}={'c' * 24}" if consent else None,
    }
    present = {k: v for k, v in given_headers.items() if v is not None}

    seen: list[Decision] = []

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope[SCOPE_KEY])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "scheme": "http",
        "headers": [(k.encode(), v.encode("latin-1")) for k, v in present.items()],
    }
    asyncio.run(PreferenceMiddleware(asgi_app, parties=parties)(scope, receive, send))

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ[ENVIRON_DECISION])
        start_response("200 OK", [])
        return [b""]

    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http"}
    for name, value in present.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    b"".join(
        WSGIPreferenceMiddleware(wsgi_app, parties=parties)(environ, lambda *a: lambda b: None)
    )

    assert [d.role for d in seen] == [expected, expected]
