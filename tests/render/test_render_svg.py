"""The SVG builder: whatever a label holds, the output is well-formed and inert."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment
from markupsafe import Markup

from trackpref.render.svg import SVG_NS, Drawing, coord, xml_safe

ANY_TEXT = st.text(st.characters(exclude_categories=()))  # surrogates and controls too
NS = f"{{{SVG_NS}}}"


@given(ANY_TEXT)
def test_xml_safe_output_is_always_encodable_xml_text(value: str) -> None:
    safe = xml_safe(value)
    safe.encode("utf-8")  # a lone surrogate would raise here
    assert len(safe) == len(value), "one replacement per bad character, nothing else moves"
    root = ET.fromstring(str(Drawing(10, 10, title=value).markup()))
    assert root.get("aria-label") == safe, "attributes keep even a CR"
    assert root.findtext(f"{NS}title") == safe.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("plain", "plain"),
        ("tab\tnew\nline\r", "tab\tnew\nline\r"),
        ("nul\x00bell\x07", "nul\ufffdbell\ufffd"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("\ufffe\uffff", "\ufffd\ufffd"),
        ("emoji 🙂 and é", "emoji 🙂 and é"),
        (42, "42"),
    ],
)
def test_xml_safe_replaces_only_what_xml_cannot_carry(value: object, safe: str) -> None:
    assert xml_safe(value) == safe


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (-0.001, "0"), (1.5, "1.5"), (2.0, "2"), (1 / 3, "0.33"), (-12.345, "-12.35")],
)
def test_coordinates_are_short_and_never_negative_zero(value: float, text: str) -> None:
    assert coord(value) == text


def test_a_drawing_is_an_accessible_image_with_escaped_text() -> None:
    d = Drawing(120, 40, title='<script>alert("t")</script>', desc="a & b", html_id='x" onload="y')
    d.rect(1, 2, 3, 4, fill="#123456", tip="</title><script>")
    d.line(0, 0, 10, 10, stroke="#eeeeee")
    d.text(5, 6, "<b>bold</b>", fill="#000000", anchor="end", tip="tip")
    out = str(d.markup())
    assert "<script" not in out
    root = ET.fromstring(out)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == '<script>alert("t")</script>'
    assert root.get("id") == 'x" onload="y'
    assert root.get("onload") is None
    assert root.get("viewBox") == "0 0 120 40"
    assert root.findtext(f"{NS}title") == '<script>alert("t")</script>'
    assert root.findtext(f"{NS}desc") == "a & b"
    background, rect = root.findall(f"{NS}rect")
    assert background.get("fill") == "#ffffff"
    assert rect.findtext(f"{NS}title") == "</title><script>"
    text = root.find(f"{NS}text")
    assert text is not None
    assert text.text == "<b>bold</b>"
    assert text.get("text-anchor") == "end"
    assert [e.tag for e in text] == [f"{NS}title"]


def test_no_desc_element_without_a_description() -> None:
    root = ET.fromstring(str(Drawing(10, 10, title="t").markup()))
    assert root.find(f"{NS}desc") is None
    assert root.get("id") is None


def test_jinja_places_the_markup_as_it_is() -> None:
    markup = Drawing(10, 10, title="<i>").markup()
    assert isinstance(markup, Markup)
    env = Environment(autoescape=True)
    assert env.from_string("{{ m }}").render(m=markup) == str(markup)
