"""Numbers and secrets read from text somebody else wrote: never an exception."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref._untrusted import same_secret, whole_number


@given(st.text(max_size=40), st.integers(min_value=1, max_value=30))
def test_whole_number_reads_ascii_digits_only_and_never_raises(text: str, max_digits: int) -> None:
    number = whole_number(text, max_digits=max_digits)
    plain = text.isascii() and text.isdigit() and len(text) <= max_digits
    assert (number is not None) == plain
    if number is not None:
        assert number == int(text)
        assert whole_number(text.encode(), max_digits=max_digits) == number


def test_the_digits_python_would_misread() -> None:
    for junk in ("²", "٣", "１２", "+1", "-1", " 1", "1 ", "1_000", "", None, "9" * 5000):
        assert whole_number(junk) is None, junk
    assert whole_number(b"\xb2") is None
    assert whole_number("007") == 7


@given(st.text(max_size=30), st.text(max_size=30))
def test_same_secret_is_equality_for_any_text(a: str, b: str) -> None:
    assert same_secret(a, b) == (a == b)
    assert same_secret(a, a)


def test_same_secret_where_compare_digest_raises() -> None:
    with pytest.raises(TypeError):
        hmac.compare_digest("é", "e")  # what this helper exists for
    assert not same_secret("é", "e")
    assert not same_secret("\ud800", "x")  # a lone surrogate, as a form may carry
    assert same_secret(b"abc", "abc")
