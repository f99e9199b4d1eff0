"""Walking the source with html.parser: offsets for the cleaner, linear on any nesting."""

from __future__ import annotations

import pytest

from trackpref.mail.html_source import defuse, scan_source
from trackpref.mail.html_tree import scan_tree


def test_defusing_keeps_offsets_and_real_tags() -> None:
    html = '<p>x</p><img src="https://t.example/o.gif"> <a <!-- <![ tail'
    defused = defuse(html)
    assert len(defused) == len(html)
    assert defused.startswith('<p>x</p><img src="https://t.example/o.gif">')
    assert "<" not in defused[len('<p>x</p><img src="https://t.example/o.gif">') :]
    assert defuse("<p>ok</p>") == "<p>ok</p>"


def test_urls_are_the_ones_the_tree_reports() -> None:
    html = (
        '<p>Hi</p>\n<img src="https://t.example/o.gif?a=1&timestamp=2&region=eu" width=1>\n'
        "<a href='https://click.example/c?u=1&notify=2&amp;x=3' class=cta>Go</a>"
    )
    located = scan_source(html, positions=True)
    built = scan_tree(html)
    assert [i.src for i in located.images] == [i.src for i in built.images]
    assert [link.href for link in located.links] == [link.href for link in built.links]
    image = located.images[0]
    assert html[image.start : image.end].startswith("<img ")
    assert html[image.start : image.end].endswith("width=1>")


@pytest.mark.timeout(60)
def test_deep_nesting_costs_the_source_walk_nothing_extra() -> None:
    html = (
        "<div style='display:none'>" + "<dl><dd>" * 50_000 + '<img src="https://a.example/x.gif">'
    )
    [image] = scan_source(html).images
    assert image.hidden == "inside an element with display:none"
