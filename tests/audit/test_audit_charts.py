"""The report's charts: one group of bars per state, the site's URL only ever as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from trackpref.audit.charts import OVERVIEW_SERIES, SITE_SERIES, overview_chart, site_chart
from trackpref.render.svg import SVG_NS

NS = f"{{{SVG_NS}}}"
HOSTILE = 'https://x.example/"><script>alert(1)</script>'


def summary(requests: int, sites: int, identifiers: int, cookies: int) -> dict[str, Any]:
    return {
        "summary": {
            "third_party_requests": requests,
            "third_party_sites": sites,
            "third_party_identifiers": identifiers,
            "third_party_identifier_cookies": cookies,
        }
    }


SITE = {
    "url": HOSTILE,
    "states": {"no-signal": summary(9, 3, 2, 1), "gpc": summary(4, 2, 0, 0)},
}


def marks(root: ET.Element) -> list[str]:
    return [r.findtext(f"{NS}title") or "" for r in root.findall(f"{NS}rect[@class='chart-mark']")]


def test_a_site_chart_has_every_count_of_every_state() -> None:
    chart = site_chart(SITE)
    assert chart is not None
    assert "<script" not in str(chart)
    root = ET.fromstring(str(chart))
    assert root.findtext(f"{NS}title", "").endswith(HOSTILE), "the URL names the chart, as text"
    assert marks(root) == [
        f"{state}: {series} {n}"
        for state, counts in (("no-signal", (9, 3, 2, 1)), ("gpc", (4, 2, 0, 0)))
        for series, n in zip(SITE_SERIES, counts, strict=True)
    ]


def test_no_states_no_chart() -> None:
    assert site_chart({"url": "https://a.example/", "states": {}}) is None
    assert site_chart({"url": "https://a.example/"}) is None
    assert overview_chart({"states": ["gpc"], "sites": []}) is None
    assert overview_chart({"states": [], "sites": [SITE]}) is None


def test_the_overview_sums_the_sites_per_state() -> None:
    other = {"url": "https://b.example/", "states": {"no-signal": summary(1, 1, 5, 0)}}
    chart = overview_chart({"states": ["no-signal", "gpc"], "sites": [SITE, other]})
    assert chart is not None
    tips = marks(ET.fromstring(str(chart)))
    assert tips == [
        f"{state}: {series} {n}"
        for state, counts in (("no-signal", (10, 7, 2)), ("gpc", (4, 0, 0)))
        for series, n in zip(OVERVIEW_SERIES, counts, strict=True)
    ]
