"""The dashboard's charts: which statistic each one draws, in the signal colours.

The drawing itself is the shared :mod:`trackpref.render.charts` (inline SVG,
no script, no CDN, every label escaped: a referrer domain or a path is data
the public sent us). This module only picks, for each chart, its numbers, its
element id (the page and its tests find the charts by it) and its title.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ..render.charts import bar_list, columns, share_bars

__all__ = ["SIGNAL_COLORS", "SIGNAL_LABELS", "dashboard_charts"]

#: The signal classes in legend order, with colours that read in grey scale too.
SIGNAL_COLORS = {"gpc": "#1b7f3b", "dnt1": "#3b6fd4", "dnt0": "#e8a317", "unset": "#9aa0a6"}
SIGNAL_LABELS = {"gpc": "GPC", "dnt1": "DNT: 1", "dnt0": "DNT: 0", "unset": "unset"}

#: The ranked lists: (key in the stats and in the result, element id, title).
_LISTS = (
    ("referrers", "chart-referrers", "Referrer domains"),
    ("paths", "chart-paths", "Pages"),
    ("devices", "chart-devices", "Devices"),
    ("os", "chart-os", "Operating systems"),
    ("regions", "chart-regions", "Regions"),
    ("events", "chart-events", "Custom events"),
)


def dashboard_charts(stats: Mapping[str, Any]) -> dict[str, Markup]:
    """Every chart of the dashboard for one site's :func:`~.stats.site_stats`, by name."""
    by_day = stats["pageviews"]["by_day"]
    sig = stats["signals"]
    platforms = [(device, data["counts"]) for device, data in sorted(sig["by_platform"].items())]
    charts = {
        "pageviews": columns(
            [d["day"] for d in by_day],
            ("page views",),
            [[d["pageviews"]] for d in by_day],
            title="Page views per day",
            html_id="chart-pageviews",
            width=640,
            height=200,
            value_labels=False,
            empty_text="no page views yet",
        ),
        "signals": share_bars(
            [("all platforms", sig["counts"]), *platforms],
            tuple(SIGNAL_COLORS),
            title="Shares of privacy signals, by platform",
            html_id="chart-signals",
            colors=SIGNAL_COLORS,
            labels=SIGNAL_LABELS,
            empty_text="no page views yet",
        ),
        "campaigns": bar_list(
            [(c["campaign"], c["opens"]) for c in stats["campaigns"]],
            title="Campaign opens",
            html_id="chart-campaigns",
        ),
        "kept": bar_list(list(stats["kept"].items()), title="What was kept", html_id="chart-kept"),
    }
    for key, html_id, title in _LISTS:
        charts[key] = bar_list(stats[key], title=title, html_id=html_id)
    return charts
