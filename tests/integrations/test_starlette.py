"""Starlette and FastAPI, through their own test clients."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from trackpref import Decision, Preference, PreferenceMiddleware
from trackpref.integrations.starlette import decision, preference


def test_starlette_endpoint_reads_the_decision() -> None:
    async def home(request: Request) -> JSONResponse:
        d = decision(request)
        return JSONResponse({"state": d.preference.state.value, "share": d.may_share})

    app = Starlette(
        routes=[Route("/", home)],
        middleware=[Middleware(PreferenceMiddleware)],  # type: ignore[arg-type]
    )
    with TestClient(app) as client:
        r = client.get("/", headers={"Sec-GPC": "1"})
        assert r.json() == {"state": "do-not-track", "share": False}
        assert r.headers["tk"] == "N;not-tracking"
        assert client.get("/.well-known/gpc.json").json()["gpc"] is True


def test_fastapi_dependency() -> None:
    app = FastAPI()
    app.add_middleware(PreferenceMiddleware)  # type: ignore[arg-type]

    @app.get("/")
    def home(
        pref: Preference = Depends(preference), d: Decision = Depends(decision)
    ) -> dict[str, str]:
        return {"state": pref.state.value, "tk": d.tracking_status}

    with TestClient(app) as client:
        assert client.get("/", headers={"DNT": "1"}).json() == {"state": "do-not-track", "tk": "N"}
        assert client.get("/", headers={"DNT": "0"}).json() == {"state": "allow", "tk": "T"}
        assert client.get("/").json() == {"state": "unset", "tk": "T"}


def test_missing_middleware_is_a_loud_error() -> None:
    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"state": preference(request).state.value})

    app = Starlette(routes=[Route("/", home)])
    with (
        TestClient(app, raise_server_exceptions=True) as client,
        pytest.raises(RuntimeError, match="PreferenceMiddleware is not installed"),
    ):
        client.get("/")
