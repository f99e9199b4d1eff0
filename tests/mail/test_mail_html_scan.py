from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.mail import html_scan
from trackpref.mail.html_elements import HtmlFindings
from trackpref.mail.html_scan import MAX_TREE_TAGS, ImageTag, LinkTag, scan_html
from trackpref.mail.html_tree import scan_tree

PAGE = """<html><body>
<img src="https://cdn.example/logo.png" width="200" height="60" alt="Logo">
<IMG SRC='https://t.example/o.gif?x=1&amp;y=2' WIDTH=1 style="height:0px">
<div style="display:none"><p><img src="https://t.example/hidden.gif"></p></div>
<img src="https://cdn.example/after.png">
<a href="https://shop.example/a" class="btn">Shop <b>now</b></a>
<area href="https://shop.example/map">
<!--[if mso]><v:roundrect href="https://click.example/vml">Go</v:roundrect>
<img src="https://t.example/mso.gif" width=1 height=1><![endif]-->
<img src="data:image/gif;base64,R0lGOD"><img alt="no src">
</body></html>"""


def test_images_with_sizes_and_hidden_state() -> None:
    found = scan_html(PAGE)
    assert found.error is None
    by_src = {i.src: i for i in found.images}
    logo = by_src["https://cdn.example/logo.png"]
    assert (logo.width, logo.height, logo.hidden, logo.alt) == (200.0, 60.0, None, "Logo")
    pixel = by_src["https://t.example/o.gif?x=1&y=2"]
    assert (pixel.width, pixel.height) == (1.0, 0.0)
    assert by_src["https://t.example/hidden.gif"].hidden == "inside an element with display:none"
    assert by_src["https://cdn.example/after.png"].hidden is None
    assert by_src["https://t.example/mso.gif"].width == 1.0
    assert "data:image/gif;base64,R0lGOD" in by_src


def test_links_with_text_including_vml_in_conditional_comments() -> None:
    links = {link.href: link for link in scan_html(PAGE).links}
    assert links["https://shop.example/a"].text == "Shop now"
    assert links["https://shop.example/map"].tag == "area"
    assert links["https://click.example/vml"].tag == "v:roundrect"


def test_positions_point_at_the_start_tags() -> None:
    found = scan_html(PAGE, positions=True)
    elements: list[ImageTag | LinkTag] = [*found.images, *found.links]
    for element in elements:
        tag = PAGE[element.start : element.end]
        assert tag.startswith("<"), tag
        assert tag.endswith(">"), tag
    img = next(i for i in found.images if i.src.endswith("o.gif?x=1&y=2"))
    assert (
        PAGE[img.start : img.end]
        == """<IMG SRC='https://t.example/o.gif?x=1&amp;y=2' WIDTH=1 style="height:0px">"""
    )
    mso = next(i for i in found.images if i.src.endswith("mso.gif"))
    assert PAGE[mso.start : mso.end] == '<img src="https://t.example/mso.gif" width=1 height=1>'
    assert all(i.start == -1 for i in scan_html(PAGE).images)


def test_markup_that_stops_html_parser_does_not_stop_the_scan() -> None:
    html = '<img src="https://a.example/1.gif"><![foo[bar]]><img src="https://a.example/2.gif">'
    found = scan_html(html)  # the tree builder reads it as a browser does
    assert found.error is None
    assert [i.src for i in found.images] == ["https://a.example/1.gif", "https://a.example/2.gif"]
    located = scan_html(html, positions=True)  # the source walk: reported, not raised
    assert located.error is not None
    assert "could not be parsed" in located.error
    assert [i.src for i in located.images] == ["https://a.example/1.gif"]


def test_deep_nesting_and_unclosed_tags() -> None:
    html = (
        "<div style='display:none'>"
        + "<div>" * 5000
        + '<img src="https://a.example/x.gif">'
        + "</span>" * 100
    )
    found = scan_html(html)
    assert found.images[0].hidden is not None
    assert scan_html("<a href='https://a.example/'>unclosed").links[0].text == "unclosed"


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' !-[]abcdimgsrchefvx:;&#\n")), max_size=400))
def test_scan_never_raises_and_spans_are_tags(html: str) -> None:
    found = scan_html(html, positions=True)
    elements: list[ImageTag | LinkTag] = [*found.images, *found.links]
    for element in elements:
        if element.start >= 0:
            assert html[element.start] == "<"
            assert html[element.end - 1] == ">"


@settings(deadline=None)
@given(st.text(max_size=300))
def test_scan_never_raises_on_any_text(html: str) -> None:
    scan_html(html, positions=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "html",
    [
        "<a " * 30_000,  # took four minutes before the defusing
        "<!--" * 20_000,
        "</" * 50_000,
        "<![CDATA[>" * 20_000,
        "<!--[if mso]>" * 20_000 + "-->",
    ],
)
def test_constructs_that_never_end_do_not_stall_the_parser(html: str) -> None:
    found = scan_html(html + '<img src="https://t.example/o.gif">', positions=True)
    assert found.error is None


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' !-[]abcdimgsrchefvx:;&#\n")), max_size=400))
def test_the_tree_scan_never_raises(html: str) -> None:
    for image in scan_html(html).images:
        assert image.src
        assert image.start == -1


@settings(deadline=None)
@given(st.text(max_size=300))
def test_the_tree_scan_never_raises_on_any_text(html: str) -> None:
    scan_html(html)


def _spy_on_the_tree(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = scan_tree

    def spy(text: str) -> HtmlFindings:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(html_scan, "scan_tree", spy)
    return calls


@pytest.mark.timeout(120)
def test_bodies_with_too_many_tags_are_walked_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # 60,000 nested <dd> would take the tree builder minutes (quadratic in depth).
    calls = _spy_on_the_tree(monkeypatch)
    bomb = "<dl><dd>" * 30_000 + '<img src="https://t.example/o.gif?u=Zk3jd9Qx81LmPq2z" width=1>'
    found = scan_html(bomb)
    assert calls == []
    assert [i.src for i in found.images] == ["https://t.example/o.gif?u=Zk3jd9Qx81LmPq2z"]
    small = "<p>" * (MAX_TREE_TAGS - 1) + '<img src="https://t.example/a.gif">'
    assert [i.src for i in scan_html(small).images] == ["https://t.example/a.gif"]
    assert len(calls) == 1


def test_a_failing_tree_builder_falls_back_to_the_source_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(text: str) -> HtmlFindings:
        raise MemoryError

    monkeypatch.setattr(html_scan, "scan_tree", broken)
    found = scan_html('<a href="https://shop.example/a">Shop</a>')
    assert [link.href for link in found.links] == ["https://shop.example/a"]
