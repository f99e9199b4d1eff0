"""Whatever an adapter hands the signal parsers, they answer; they never raise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.signals.dnt import parse_dnt
from trackpref.signals.field_values import field_values
from trackpref.signals.gpc import parse_gpc

anything = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(),
    st.floats(),
    st.lists(st.one_of(st.text(max_size=8), st.binary(max_size=8), st.integers()), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@given(anything)
def test_the_parsers_answer_anything_with_a_value_or_a_problem(values: object) -> None:
    dnt = parse_dnt(values)  # type: ignore[arg-type]
    gpc = parse_gpc(values)  # type: ignore[arg-type]
    assert dnt.choice in (None, "0", "1")
    assert isinstance(gpc.enabled, bool)


@given(st.binary(max_size=40))
def test_bytes_read_as_latin_1_give_what_the_text_gives(raw: bytes) -> None:
    text = raw.decode("latin-1")
    assert parse_dnt(raw) == parse_dnt(text)
    assert parse_dnt([raw]) == parse_dnt([text])
    assert parse_gpc(raw) == parse_gpc(text)


def test_what_is_not_a_header_value_is_named() -> None:
    assert field_values(1) == "a value of type int is not a header value"
    assert field_values([b"1", 2.0]) == "a value of type float is not a header value"
    assert parse_dnt(1).problem == "DNT: a value of type int is not a header value"  # type: ignore[arg-type]
    assert parse_gpc([b"1"]).enabled
