"""The dashboard's charts: each statistic in its chart, under the id the page finds it by."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from trackpref.render.svg import SVG_NS
from trackpref.service.charts import SIGNAL_COLORS, SIGNAL_LABELS, dashboard_charts

NS = f"{{{SVG_NS}}}"
LISTS = ("referrers", "paths", "devices", "os", "regions", "events")


def stats(views: int = 3) -> dict[str, Any]:
    signals = {"gpc": views, "dnt1": 0, "dnt0": 0, "unset": 2 * views}
    return {
        "pageviews": {
            "by_day": [
                {"day": "2026-01-01", "pageviews": 0},
                {"day": "2026-01-02", "pageviews": views},
            ]
        },
        "signals": {"counts": signals, "by_platform": {"mobile": {"counts": signals}}},
        **{key: [(f"<{key}>", views)] if views else [] for key in LISTS},
        "campaigns": [{"campaign": "spring", "opens": views}] if views else [],
        "kept": {"with-id": 0, "raw": views, "counted-only": 0},
    }


def test_every_chart_is_there_with_its_id() -> None:
    charts = dashboard_charts(stats())
    assert set(charts) == {"pageviews", "signals", "campaigns", "kept", *LISTS}
    for name, chart in charts.items():
        root = ET.fromstring(str(chart))
        assert root.get("id") == f"chart-{name}"
        assert root.findtext(f"{NS}title")
    referrers = ET.fromstring(str(charts["referrers"]))
    assert referrers.findtext(f"{NS}rect[@class='chart-mark']/{NS}title") == "<referrers>: 3"
    assert "&lt;referrers&gt;" in str(charts["referrers"])


def test_the_signal_chart_uses_the_signal_colours_and_names() -> None:
    root = ET.fromstring(str(dashboard_charts(stats())["signals"]))
    keys = root.findall(f"{NS}rect[@class='chart-key']")
    assert [(k.get("fill"), k.findtext(f"{NS}title")) for k in keys] == [
        (SIGNAL_COLORS[s], SIGNAL_LABELS[s]) for s in SIGNAL_COLORS
    ]
    segments = root.findall(f"{NS}rect[@class='chart-mark']")
    assert [s.get("fill") for s in segments] == [SIGNAL_COLORS["gpc"], SIGNAL_COLORS["unset"]] * 2
    rows = [t.text for t in root.findall(f"{NS}text[@class='chart-label']")]
    assert rows == ["all platforms", "mobile"]


def test_a_site_without_views_is_told_so() -> None:
    charts = dashboard_charts(stats(views=0))
    for name in ("pageviews", "signals"):
        root = ET.fromstring(str(charts[name]))
        assert root.findtext(f"{NS}text[@class='chart-empty']") == "no page views yet"
    root = ET.fromstring(str(charts["referrers"]))
    assert root.findtext(f"{NS}text[@class='chart-empty']") == "nothing yet"
