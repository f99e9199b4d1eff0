"""In-process cost per request of the ASGI and WSGI middleware.

Compares, in one run and on one core:

* a plain Starlette app (baseline),
* the same app behind ``PreferenceMiddleware``,
* the same app behind Starlette's ``CORSMiddleware`` answering a simple
  CORS request (the yardstick the issue names),
* a bare WSGI app and the same app behind ``WSGIPreferenceMiddleware``.

The app is called directly with a fake scope / environ, so the figures are the
middleware's own cost, not the server's. Time is the process's CPU time, so
other work on a busy machine inflates the figures less than wall time would.
Each figure is the median of several repeats; what matters is the difference
to the baseline measured in the same run. Usage: ``python bench/middleware.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from trackpref import PreferenceMiddleware, WSGIPreferenceMiddleware


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def starlette_app(*middleware: Middleware) -> Starlette:
    return Starlette(routes=[Route("/", hello)], middleware=list(middleware))


#: A simple CORS request as Chromium sends it from a page on another site: Origin,
#: the page's origin as Referer (strict-origin-when-cross-origin) and Fetch Metadata,
#: which every current browser sends.
HEADERS = [
    (b"host", b"example.test"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"),
    (b"accept", b"text/html,application/xhtml+xml"),
    (b"accept-language", b"en-US,en;q=0.9"),
    (b"origin", b"https://other.test"),
    (b"sec-fetch-site", b"cross-site"),
    (b"sec-fetch-mode", b"cors"),
    (b"sec-fetch-dest", b"empty"),
    (b"referer", b"https://other.test/"),
    (b"dnt", b"1"),
    (b"sec-gpc", b"1"),
]
#: The same without Fetch Metadata (an old browser, or a script): the middleware
#: must then classify the party from Origin and Referer, the slower path. Shown,
#: not held to the targets.
NO_FETCH_METADATA = [h for h in HEADERS if not h[0].startswith(b"sec-fetch-")]


def scope(headers: list[tuple[bytes, bytes]] = HEADERS) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def time_asgi(
    app: Callable[..., Any], n: int, headers: list[tuple[bytes, bytes]] = HEADERS
) -> float:
    async def run() -> float:
        # Warm up (routing caches, the middleware's outcome cache).
        for _ in range(200):
            await app(scope(headers), _receive, _send)
        t0 = time.process_time()
        for _ in range(n):
            await app(scope(headers), _receive, _send)
        return (time.process_time() - t0) / n * 1e6

    return asyncio.run(run())


def wsgi_hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "example.test",
        "SERVER_PORT": "80",
        "HTTP_HOST": "example.test",
        "HTTP_USER_AGENT": "Mozilla/5.0",
        "HTTP_ORIGIN": "https://other.test",
        "HTTP_SEC_FETCH_SITE": "cross-site",
        "HTTP_SEC_FETCH_MODE": "cors",
        "HTTP_SEC_FETCH_DEST": "empty",
        "HTTP_REFERER": "https://other.test/",
        "HTTP_DNT": "1",
        "HTTP_SEC_GPC": "1",
        "wsgi.url_scheme": "http",
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def time_wsgi(app: Callable[..., Any], n: int) -> float:
    for _ in range(200):
        app(environ(), _start_response)
    t0 = time.process_time()
    for _ in range(n):
        app(environ(), _start_response)
    return (time.process_time() - t0) / n * 1e6


def median_of(fn: Callable[[], float], repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def paired(fns: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every variant once per round, in turn, so drift hits them alike.

    Garbage collection is off while timing, as ``timeit`` does: a collection
    landing in one variant's window would be noise, not cost.
    """
    out: dict[str, list[float]] = {k: [] for k in fns}
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                out[name].append(fn())
    finally:
        gc.enable()
    return out


def added(rounds: dict[str, list[float]], name: str) -> float:
    """Median over rounds of (variant - bare) in the same round."""
    return statistics.median(v - b for v, b in zip(rounds[name], rounds["bare"], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    n = 5_000 if args.quick else 10_000
    repeats = 5 if args.quick else 21

    bare = starlette_app()
    honoring = starlette_app(Middleware(PreferenceMiddleware))
    cors = starlette_app(Middleware(CORSMiddleware, allow_origins=["*"]))
    asgi = paired(
        {
            "bare": lambda: time_asgi(bare, n),
            "trackpref": lambda: time_asgi(honoring, n),
            "cors": lambda: time_asgi(cors, n),
            "classified": lambda: time_asgi(honoring, n, NO_FETCH_METADATA),
        },
        repeats,
    )
    wrapped = WSGIPreferenceMiddleware(wsgi_hello)
    wsgi = paired(
        {
            "bare": lambda: time_wsgi(wsgi_hello, n * 4),
            "trackpref": lambda: time_wsgi(wrapped, n * 4),
        },
        repeats,
    )

    a_added = added(asgi, "trackpref")
    c_added = added(asgi, "cors")
    w_added = added(wsgi, "trackpref")
    med = {k: statistics.median(v) for k, v in asgi.items()}
    wmed = {k: statistics.median(v) for k, v in wsgi.items()}
    print(f"ASGI, Starlette hello: {repeats} rounds x {n} calls; µs/request (median), CPU time")
    print(f"  bare app                   {med['bare']:7.2f}")
    print(f"  + PreferenceMiddleware     {med['trackpref']:7.2f}   added {a_added:+.2f} µs")
    print(f"  + CORSMiddleware (simple)  {med['cors']:7.2f}   added {c_added:+.2f} µs")
    ratio = a_added / c_added if c_added > 0 else float("nan")
    print(f"  trackpref / CORS added     {ratio:7.2f}")
    print(
        f"  (no Fetch Metadata: trackpref classifies Origin/Referer "
        f"{med['classified']:.2f}, added {added(asgi, 'classified'):+.2f} µs)"
    )
    print(f"WSGI, bare callable: {repeats} rounds x {n * 4} calls; µs/request (median)")
    print(f"  bare app                   {wmed['bare']:7.2f}")
    print(f"  + WSGIPreferenceMiddleware {wmed['trackpref']:7.2f}   added {w_added:+.2f} µs")
    ok = a_added <= 1.5 and a_added <= c_added and w_added <= 1.0
    print("targets (ASGI ≤ 1.5 µs and ≤ CORS; WSGI ≤ 1 µs):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
