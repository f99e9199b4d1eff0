"""WSGI-only behaviour: errors raised by the app, under a real server (wsgiref)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from trackpref import WSGIPreferenceMiddleware
from trackpref.web.wsgi import ENVIRON_DECISION


def _failing(after_start: bool) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if after_start:
            start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize("after_start", [False, True], ids=["before", "after-start_response"])
def test_checklist_21_error_answer_carries_tk(
    serve_wsgi: Callable[[Any], str], after_start: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The app may fail before or after calling start_response; either way the
    # headers are not sent yet, so the 500 replaces them and still declares.
    base = serve_wsgi(WSGIPreferenceMiddleware(_failing(after_start)))
    with caplog.at_level("ERROR", logger="trackpref"):
        response = httpx.get(base + "/", headers={"DNT": "1"})
    assert response.status_code == 500
    assert response.headers["tk"].split(";")[0] == "N"
    assert "boom" not in response.text
    assert any("unhandled error" in r.message for r in caplog.records)


def test_decision_in_environ_and_preference_through_it() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen["decision"] = environ[ENVIRON_DECISION]
        start_response("200 OK", [])
        return [b""]

    client = httpx.Client(
        transport=httpx.WSGITransport(app=WSGIPreferenceMiddleware(app)), base_url="http://t"
    )
    client.get("/", headers={"Sec-GPC": "1"})
    assert seen["decision"].preference.do_not_track
