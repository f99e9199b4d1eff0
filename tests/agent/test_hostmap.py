from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.hostmap import parse_host_map
from trackpref.signals.errors import SignalError


def test_exact_and_wildcard_entries() -> None:
    m = parse_host_map(["*.test=127.0.0.1", "special.example=::1"])
    assert m.resolve("a.b.test") == "127.0.0.1"
    assert m.resolve("test") == "127.0.0.1"
    assert m.resolve("special.example") == "::1"
    assert m.resolve("other.example") is None
    assert bool(m)
    assert not parse_host_map([])


@pytest.mark.parametrize(
    "bad", ["*.test", "=1.2.3.4", "x.test=", "bad host=1.2.3.4", "a.test=not an address"]
)
def test_malformed_entries_are_named(bad: str) -> None:
    with pytest.raises(SignalError) as err:
        parse_host_map([bad])
    assert repr(bad) in err.value.message


@given(st.lists(st.text(max_size=20), max_size=3))
def test_any_entries_parse_or_raise_signal_error(entries: list[str]) -> None:
    with contextlib.suppress(SignalError):
        parse_host_map(entries)
