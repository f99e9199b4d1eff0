from __future__ import annotations

import json
from html.parser import HTMLParser
from importlib import resources

from trackpref.ledger.inventory import load_inventory, parse_inventory
from trackpref.ledger.render import render_html, render_json

EXAMPLE = str(resources.files("trackpref").joinpath("examples", "inventory.toml"))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            if k == "id" and v:
                self.ids.add(v)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collect:
    c = _Collect()
    c.feed(html)
    c.close()
    return c


def test_html_lists_every_dataset_field_and_recipient() -> None:
    inv = load_inventory(EXAMPLE)
    page = parse(render_html(inv))
    text = " ".join(page.text)
    assert "What news.example collects and why" in text
    for ds in inv.datasets.values():
        assert f"ds-{ds.name}" in page.ids
        for f in ds.fields.values():
            assert f.name in text
            assert str(f.retention) in text
    for r in inv.recipients.values():
        assert r.name in text
    assert "5000" in text  # EFF policy promise
    assert "encrypted with your own key" in text
    assert "receives nothing under Do Not Track" in text  # the third-party ad network
    assert "are kept 24 months as evidence, then deleted" in " ".join(text.split())


def test_html_escapes_what_the_site_owner_wrote() -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    inv = parse_inventory(
        f"""
[site]
name = "x.example"
controller = "{hostile}"
[datasets.v]
description = "{hostile}"
purposes = ["security"]
legal_basis = "legal-obligation"
[datasets.v.fields.a]
category = "a.b"
description = "{hostile}"
"""
    )
    html = render_html(inv)
    page = parse(html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert "&lt;script&gt;" in html
    assert hostile in " ".join(page.text)


def test_json_round_trips_the_inventory() -> None:
    inv = load_inventory(EXAMPLE)
    doc = json.loads(render_json(inv))
    assert doc["site"]["name"] == "news.example"
    assert [d["name"] for d in doc["datasets"]] == list(inv.datasets)
    pv = doc["datasets"][0]
    assert pv["retention"] == {"amount": 10, "unit": "days", "text": "10 days"}
    assert pv["k_dnt"] == 5000
    visitor = next(f for f in pv["fields"] if f["name"] == "visitor_id")
    assert visitor["identifier"] == "pseudonymous"
    purposes = {p["name"]: p for p in doc["purposes"]}
    assert purposes["security"]["permitted_use"] is True
    assert purposes["newsletter"]["site_defined"] is True
    assert purposes["newsletter"]["permitted_use"] is False
    assert {r["id"] for r in doc["recipients"]} == {"cdn", "adnet"}
