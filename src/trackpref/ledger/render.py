"""The inventory as people read it: a transparency page and a JSON document.

Both are generated from the validated :class:`Inventory`, never written by
hand, so the page cannot promise something the gate does not enforce. The
HTML goes through Jinja2 with autoescaping on: descriptions come from a file a
site owner edits, and a ``<script>`` in a description must show as text.
"""

from __future__ import annotations

import json

import jinja2

from trackpref.signals.decisions import PERMITTED_USES

from .inventory import EFF_MIN_K, Inventory, LegalBasis

__all__ = ["render_html", "render_json"]

_BASIS_TEXT = {
    LegalBasis.CONSENT.value: "your consent, which you can withdraw at any time",
    LegalBasis.CONTRACT.value: "a contract with you (providing what you asked for)",
    LegalBasis.LEGAL_OBLIGATION.value: "a legal obligation",
    LegalBasis.VITAL_INTERESTS.value: "protecting someone's vital interests",
    LegalBasis.PUBLIC_TASK.value: "a task in the public interest",
    LegalBasis.LEGITIMATE_INTERESTS.value: "our legitimate interests, which you may object to",
}
_KIND_TEXT = {
    "raw": "raw event log (short-lived)",
    "aggregate": "statistics (no individual records)",
    "records": "records you asked us to keep",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("trackpref.ledger", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(inventory: Inventory) -> str:
    """The "what we collect and why" page."""
    template = _ENV.get_template("transparency.html")
    return template.render(
        site=inventory.site,
        datasets=list(inventory.datasets.values()),
        recipients=inventory.recipients,
        site_purposes=list(inventory.purposes.values()),
        permitted={p.value for p in PERMITTED_USES},
        describe=inventory.describe_purpose,
        basis_text=_BASIS_TEXT,
        kind_text=_KIND_TEXT,
        eff_min_k=EFF_MIN_K,
    )


def render_json(inventory: Inventory, *, indent: int | None = 2) -> str:
    """The machine-readable inventory (the same content as the page)."""
    return json.dumps(inventory.as_dict(), indent=indent, ensure_ascii=False) + "\n"
