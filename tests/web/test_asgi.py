"""ASGI-only behaviour: scopes it must not touch, and the scope key."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from trackpref import PreferenceMiddleware
from trackpref.signals.decisions import Decision
from trackpref.web.asgi import SCOPE_KEY


def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    middleware = PreferenceMiddleware(app)

    async def run() -> None:
        for kind in ("lifespan", "websocket"):
            await middleware({"type": kind, "headers": [(b"dnt", b"1")]}, None, None)  # type: ignore[arg-type]

    anyio.run(run)
    assert [s["type"] for s in seen] == ["lifespan", "websocket"]
    assert all(SCOPE_KEY not in s for s in seen)


def test_decision_attached_and_headers_added_to_tuple_headers() -> None:
    sent: list[dict[str, Any]] = []
    got: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        got.append(scope[SCOPE_KEY])
        # A response that gives headers as a tuple must still get Tk.
        await send({"type": "http.response.start", "status": 200, "headers": ((b"x", b"1"),)})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"sec-gpc", b"1")]}
    anyio.run(PreferenceMiddleware(app), scope, receive, send)
    assert isinstance(got[0], Decision)
    assert got[0].preference.gpc.enabled
    headers = dict(sent[0]["headers"])
    assert headers[b"tk"] == b"N;not-tracking"
    assert headers[b"x"] == b"1"


def test_reused_response_headers_are_not_mutated() -> None:
    """A cached Response reuses its header list; Tk must not pile up on it."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from trackpref.signals.site_policy import SitePolicy

    shared = PlainTextResponse("hi", headers={"set-cookie": "_track=1"})

    async def home(request: Any) -> PlainTextResponse:
        return shared

    app = PreferenceMiddleware(
        Starlette(routes=[Route("/", home)]), SitePolicy(tracking_cookies=("_track",))
    )
    with TestClient(app) as client:
        assert "_track" not in client.get("/", headers={"DNT": "1"}).headers.get("set-cookie", "")
        for _ in range(3):
            r = client.get("/")
            assert r.headers.get_list("tk") == ["T;tracking"]
            assert "_track=1" in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("spelling", [b"tk", b"Tk", b"TK", b"tK"])
def test_app_that_chose_tk_u_keeps_it_alone(spelling: bytes) -> None:
    # ASGI says lower case; the usual capitalisations of careless apps count too.
    sent: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(spelling, b"U")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    anyio.run(PreferenceMiddleware(app), scope, receive, send)
    assert [v for k, v in sent[0]["headers"] if k.lower() == b"tk"] == [b"U"]


def test_error_before_response_still_sends_tk() -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    # The middleware re-raises, so the server still logs the app's error.
    with pytest.raises(RuntimeError, match="boom"):
        anyio.run(PreferenceMiddleware(app), scope, receive, send)
    assert sent[0]["status"] == 500
    assert (b"tk", b"T;tracking") in sent[0]["headers"]


def test_answers_no_cache_keeps_can_leave_vary_out() -> None:
    from trackpref.web.honoring import Honoring

    usual = Honoring().cached_outcome(b"1", None)
    beacon = Honoring(vary=False, referrer_policy=None).cached_outcome(b"1", None)
    assert [name for name, _ in usual.headers_all] == [b"tk", b"vary", b"referrer-policy"]
    assert beacon.headers_all == ((b"tk", b"N;not-tracking"),)
    assert beacon.decision == usual.decision
