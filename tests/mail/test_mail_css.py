from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.mail.css import css_length_px, hidden_by_style, parse_dimension, parse_style


def test_parse_style() -> None:
    decls = parse_style("WIDTH: 1px !important; height:1PX;/* c */display : none; bad; :x")
    assert decls == {"width": "1px", "height": "1px", "display": "none"}


@pytest.mark.parametrize(
    ("value", "px"),
    [
        ("1px", 1.0),
        ("0", 0.0),
        ("0.5px", 0.5),
        ("3pt", 4.0),
        ("0em", 0.0),
        ("1em", None),
        ("100%", None),
        ("auto", None),
        ("nanpx", None),
        ("infpx", None),
    ],
)
def test_css_lengths(value: str, px: float | None) -> None:
    assert css_length_px(value) == px


def test_dimension_attributes() -> None:
    assert parse_dimension(" 1 ") == 1.0
    assert parse_dimension("1px") == 1.0
    assert parse_dimension("100%") is None
    assert parse_dimension(None) is None
    assert parse_dimension("wide") is None


@pytest.mark.parametrize(
    ("style", "why"),
    [
        ("display:none", "display:none"),
        ("visibility:hidden", "visibility:hidden"),
        ("opacity:0", "opacity:0"),
        ("opacity:0.005", "opacity:0"),
        ("max-height:0px;overflow:hidden", "max-height:0"),
        ("mso-hide:all", "mso-hide:all"),
        ("display:block;opacity:1", None),
        ("max-height:none", None),
    ],
)
def test_hiding(style: str, why: str | None) -> None:
    assert hidden_by_style(parse_style(style)) == why


@given(st.text(max_size=200))
def test_css_helpers_never_raise(text: str) -> None:
    decls = parse_style(text)
    hidden_by_style(decls)
    css_length_px(text)
    parse_dimension(text)
