"""``report.html``: the audit for a person, readable in two minutes, offline.

Rendered from the same document as ``report.json`` (so the two never
disagree) with a Jinja2 template that autoescapes everything: sites choose
the URLs, cookie names and Tk values shown here, and a report must not run
what a site put in it. Styles and charts are inline; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .charts import overview_chart, site_chart
from .report import write_atomically
from .text import clean_json

__all__ = ["render_html", "write_html"]

VERDICTS = (
    ("gpc_honored", "GPC honored"),
    ("dnt_honored", "DNT honored"),
    ("declarations_valid", "Declarations valid"),
    ("claims_contradicted", "Claims contradicted"),
)

_ENV = Environment(
    loader=PackageLoader("trackpref.audit", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _label(value: object, name: str) -> tuple[str, str]:
    """(text, css class) for a verdict value; for ``claims_contradicted`` true is bad."""
    if value is None:
        return "unknown", "unknown"
    bad = value is True if name == "claims_contradicted" else value is False
    text = "yes" if value else "no"
    return text, "bad" if bad else "good"


def render_html(document: Mapping[str, Any]) -> str:
    template = _ENV.get_template("report.html")
    sites = []
    counts = {name: {"good": 0, "bad": 0, "unknown": 0} for name, _ in VERDICTS}
    for site in document.get("sites", []):
        verdicts = site.get("verdicts", {})
        badges = []
        for name, title in VERDICTS:
            text, css = _label(verdicts.get(name), name)
            counts[name][css] += 1
            badges.append({"name": name, "title": title, "text": text, "css": css})
        compliant = verdicts.get("compliant")
        sites.append(
            {
                "data": site,
                "badges": badges,
                "compliant": _label(compliant, "compliant"),
                "chart": site_chart(site),
            }
        )
    return template.render(
        doc=document,
        sites=sites,
        counts=counts,
        verdict_names=VERDICTS,
        overview=overview_chart(document),
        tds_used=any("tds" in (t.get("source") or "") for t in document.get("trackers", [])),
    )


def write_html(path: Path, document: Mapping[str, Any]) -> None:
    """Write the page; see :func:`.report.write_json` for why strings are cleaned."""
    write_atomically(path, render_html(clean_json(dict(document))))
