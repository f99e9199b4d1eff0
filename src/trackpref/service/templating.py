"""One Jinja2 environment for every page of the service, autoescaping everything.

Autoescaping is on for every template (``select_autoescape(default=True)``),
including the SVG charts: collected values are data from the public and are
always rendered as text. Undefined names fail loudly rather than render empty.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["environment", "render"]

environment = Environment(
    loader=PackageLoader("trackpref.service", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _num(value: int | float) -> str:
    return f"{value:,}"


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")


environment.filters["pct"] = _pct
environment.filters["utc"] = _utc
environment.filters["num"] = _num


def render(name: str, **context: Any) -> str:
    return environment.get_template(name).render(**context)
