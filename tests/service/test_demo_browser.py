"""End to end in a real browser: the demo with GPC on and off, the dashboard, the database.

Debian's Chromium (through Playwright) visits ``/demo/`` of a real server
twice: once with Global Privacy Control on, once with it off. Both page views
must land; the dashboard must draw the signal shares (checked on a
screenshot of the chart: the GPC and "unset" colors are there); and the
do-not-track visit must have left no identifier anywhere in the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright
from service_png import decode_png, ink

from conftest import ADMIN, BEARER
from support.browser import launch_chromium
from trackpref.service import ServiceConfig, create_app
from trackpref.service.charts import SIGNAL_COLORS

pytestmark = pytest.mark.browser

SITE = "demo.localhost"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0"
UA_GPC = UA + " gpc-on"
UA_OFF = UA + " gpc-off"


def rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def visit(pw: Any, base: str, *, gpc: bool, ua: str) -> tuple[str, str | None, str]:
    """Load the demo; (what the page says was kept, the stored id, the navigator GPC)."""
    browser = launch_chromium(pw, gpc=gpc)
    try:
        page = browser.new_context(user_agent=ua).new_page()
        page.goto(base + "/demo/")
        page.wait_for_function("document.getElementById('kept-summary').textContent !== '…'")
        summary = page.inner_text("#kept-summary")
        nav_gpc = page.inner_text("#nav-gpc")
        page.wait_for_function("window.trackpref !== undefined")
        page.evaluate("window.trackpref.preference()")
        stored = page.evaluate("window.localStorage.getItem('trackpref.id')")
        return summary, stored, nav_gpc
    finally:
        browser.close()


def test_the_demo_loop_in_chromium(
    chromium_executable: str, serve_asgi: Callable[[Any], str], tmp_path: Path
) -> None:
    config = ServiceConfig(
        db=str(tmp_path / "demo.db"),
        admin_token=ADMIN,
        demo=True,
        run_jobs=False,
        outbox=str(tmp_path / "outbox"),
    )
    app = create_app(config=config)
    service = app.state.service
    base = serve_asgi(app)

    def stats() -> dict[str, Any]:
        r = httpx.get(f"{base}/api/stats?site={SITE}", headers=BEARER, timeout=5)
        return r.json() if r.status_code == 200 else {}

    with sync_playwright() as pw:
        summary_on, id_on, nav_on = visit(pw, base, gpc=True, ua=UA_GPC)
        assert nav_on == "true"
        assert summary_on.startswith("Not kept"), summary_on
        assert id_on is None, "no identifier in the browser either"
        summary_off, id_off, nav_off = visit(pw, base, gpc=False, ua=UA_OFF)
        assert nav_off != "true"
        assert summary_off.startswith("Kept as a raw event without any id"), summary_off
        assert id_off is None, "unset: no persistent id"

        wait_for(lambda: stats().get("pageviews", {}).get("total") == 2, "both page views")
        s = stats()
        assert s["signals"]["counts"]["gpc"] == 1
        assert s["signals"]["counts"]["unset"] == 1
        assert s["kept"] == {"with-id": 0, "raw": 1, "counted-only": 1}

        # The dashboard, as the site owner sees it, in the browser.
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1600})
            page.goto(f"{base}/dashboard?site={SITE}")
            assert "/admin/login" in page.url
            page.fill("#token", ADMIN)
            page.click("#login")
            page.wait_for_selector("#chart-signals")
            assert page.inner_text("#total-pageviews") == "2"
            png = page.locator("#chart-signals").screenshot()
            shot = tmp_path / "signals.png"
            shot.write_bytes(png)
            width, height, pixels = decode_png(png)
            assert width > 300
            assert height > 30
            green = ink(pixels, rgb(SIGNAL_COLORS["gpc"]))
            grey = ink(pixels, rgb(SIGNAL_COLORS["unset"]))
            background = ink(pixels, (255, 255, 255), tolerance=3)
            assert green > 500, f"the GPC share is drawn ({green} px, see {shot})"
            assert grey > 500, f"the unset share is drawn ({grey} px)"
            assert background < len(pixels), "not a blank chart"
            bars = page.locator("#chart-pageviews").screenshot()
            _, _, pv = decode_png(bars)
            assert ink(pv, rgb("#3b6fd4")) > 50, "the page-view bars are drawn"
        finally:
            browser.close()

    # The do-not-track visit left no identifier anywhere in the database.
    hash_on = service.collector.hasher(SITE).visitor_hash(SITE, "127.0.0.1", UA_GPC)
    hash_off = service.collector.hasher(SITE).visitor_hash(SITE, "127.0.0.1", UA_OFF)
    tables = service.tables
    dump = {name: repr(tables.dump_table(name)) for name in tables.table_names()}
    everything = "\n".join(dump.values())
    assert hash_off in dump["events"], "the unset visit kept its daily hash (so the scan can see)"
    assert hash_on not in everything, "the GPC visit's hash is nowhere"
    assert "gpc-on" not in everything, "no User-Agent is kept"
    assert "gpc-off" not in everything, "no User-Agent is kept"
    assert "127.0.0.1" not in everything, "no address is kept"
    rows = list(service.collector.store_for(SITE).iter_events("pageviews"))
    assert len(rows) == 1
    assert rows[0].preference == "unset"
    assert all(r.subject_ref is None for r in rows)
