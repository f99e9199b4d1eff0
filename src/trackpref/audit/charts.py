"""The report's charts: third parties and identifiers per signal state.

One chart per site and one over all sites, drawn by the shared
:mod:`trackpref.render.charts` (inline SVG, no script, every label escaped:
the site's URL and the state names end up in the picture's text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ..render.charts import columns

__all__ = ["OVERVIEW_SERIES", "SITE_SERIES", "overview_chart", "site_chart"]

SITE_SERIES = ("third-party requests", "third-party sites", "identifiers", "identifier cookies")
OVERVIEW_SERIES = ("third-party requests", "identifiers", "sites sending identifiers")
_SUMMARY_KEYS = (
    "third_party_requests",
    "third_party_sites",
    "third_party_identifiers",
    "third_party_identifier_cookies",
)


def _summary(site: Mapping[str, Any], state: str) -> Mapping[str, Any]:
    summary: Mapping[str, Any] = (site.get("states") or {}).get(state, {}).get("summary", {})
    return summary


def site_chart(site: Mapping[str, Any]) -> Markup | None:
    """The four counts per state for one site; None when no state was recorded."""
    states = list(site.get("states") or {})
    if not states:
        return None
    values = [[int(_summary(site, name).get(k, 0)) for k in _SUMMARY_KEYS] for name in states]
    return columns(
        states,
        SITE_SERIES,
        values,
        title="third-party requests, sites, identifiers and identifier cookies per state for "
        f"{site.get('url', '')}",
    )


def overview_chart(document: Mapping[str, Any]) -> Markup | None:
    """Requests, identifiers and sites sending identifiers per state, summed over all sites."""
    states = list(document.get("states") or [])
    sites = document.get("sites") or []
    if not states or not sites:
        return None
    values = []
    for state in states:
        summaries = [_summary(site, state) for site in sites]
        requests = sum(int(s.get("third_party_requests", 0)) for s in summaries)
        identifiers = [int(s.get("third_party_identifiers", 0)) for s in summaries]
        values.append([requests, sum(identifiers), sum(1 for n in identifiers if n > 0)])
    return columns(
        states,
        OVERVIEW_SERIES,
        values,
        title="third-party requests and identifiers per state, all sites",
        width=640,
    )
