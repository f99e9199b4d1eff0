"""The exception-API shim in a real browser (Debian's Chromium via Playwright).

Store, exists, the next request treated as DNT:0, remove, and back to the
general preference — the loop the TPE Note describes, run end to end against a
loopback server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from support.browser import launch_chromium
from trackpref.service import create_app

pytestmark = pytest.mark.browser


def test_exception_loop_in_chromium(
    tmp_path: Path, serve_asgi: Callable[[Any], str], chromium_executable: str
) -> None:
    base = serve_asgi(create_app(db=tmp_path / "t.db"))
    port = base.rsplit(":", 1)[1].rstrip("/")
    site = f"http://news.example.test:{port}"
    with sync_playwright() as pw:
        browser = launch_chromium(pw, host_rules="MAP *.test 127.0.0.1")
        try:
            context = browser.new_context(extra_http_headers={"DNT": "1"})
            page = context.new_page()
            page.goto(site + "/")
            assert page.evaluate("navigator.doNotTrack") == "1"
            assert page.evaluate("fetch('/api/preference').then(r => r.json())")["preference"] == (
                "do-not-track"
            )

            result = page.evaluate("navigator.storeTrackingException({})")
            assert result == {"isSiteWide": True}  # {} stores [site, *]
            assert page.evaluate("navigator.trackingExceptionExists({})") is True
            assert page.evaluate("navigator.doNotTrack") == "0"
            pref = page.evaluate("fetch('/api/preference').then(r => r.json())")
            assert pref["preference"] == "allow"
            assert pref["exception"] is True
            assert pref["tracking_status"] == "C"

            # A reload keeps the exception: it is a consent record on the server.
            page.reload()
            assert page.locator("#exception").inner_text() == "granted"
            assert page.evaluate("navigator.doNotTrack") == "0"

            # Hostile calls reject with the Note's DOMException names.
            err = page.evaluate(
                "navigator.storeTrackingException({site: '*', targets: ['*']})"
                ".then(() => 'stored', e => e.name)"
            )
            assert err == "SecurityError"
            err = page.evaluate(
                "navigator.storeTrackingException({maxAge: 'soon'})"
                ".then(() => 'stored', e => e.name)"
            )
            assert err == "SyntaxError"

            page.evaluate("navigator.removeTrackingException({})")
            assert page.evaluate("navigator.trackingExceptionExists({})") is False
            pref = page.evaluate("fetch('/api/preference').then(r => r.json())")
            assert pref["preference"] == "do-not-track"
            assert pref["exception"] is False
            page.reload()
            assert page.locator("#exception").inner_text() == "none"
            context.close()
        finally:
            browser.close()


def test_gpc_from_chromium_itself(
    serve_asgi: Callable[[Any], str], chromium_executable: str
) -> None:
    """Chromium's own GPC (feature flag), not an injected header, reaches the core."""
    base = serve_asgi(create_app())
    with sync_playwright() as pw:
        browser = launch_chromium(pw, gpc=True)
        try:
            page = browser.new_page()
            page.goto(base + "/")
            assert page.evaluate("navigator.globalPrivacyControl") is True
            pref = page.evaluate("fetch('/api/preference').then(r => r.json())")
            assert pref["preference"] == "do-not-track"
            assert pref["gpc"] is True
        finally:
            browser.close()
