"""``Sec-GPC`` against GPC §3.2 and checklist items 38-39 (specs.md §7)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.signals.gpc import GPC, format_gpc, parse_gpc
from trackpref.signals.preference import PreferenceState, resolve_headers

fast = settings(deadline=None)

#: Oracle for "some field, after an intermediary joined fields with commas, is
#: exactly 1": a 1 bounded by the value's ends or commas, with only OWS around it.
EXACT_ONE = re.compile(r"(?:\A|,)[ \t]*1[ \t]*(?:,|\Z)")

gpc_like = st.lists(
    st.sampled_from(["0", "1", " ", "\t", ",", "true", "yes", "01", "\n"]), max_size=6
).map("".join)
header_text = st.one_of(st.text(), gpc_like)


def test_checklist_38_sec_gpc_exact_1() -> None:
    gpc = parse_gpc("1")
    assert gpc == GPC(enabled=True)
    assert gpc.present
    assert resolve_headers(None, "1").state is PreferenceState.DO_NOT_TRACK
    assert parse_gpc(" 1\t").enabled  # OWS is not part of the value (RFC 9110 §5.5)


@pytest.mark.parametrize("value", ["0", "true", "01", "yes", "", "1.0", "+1", "10", "１", "TRUE"])
def test_checklist_38_other_values_are_absent(value: str) -> None:
    gpc = parse_gpc(value)
    assert not gpc.enabled
    assert gpc.problem  # kept so that broken agents can be counted
    assert format_gpc(gpc) is None
    # Treated as absent: no do-not-track, and GPC has no "allow" to fall back on.
    assert resolve_headers(None, value).state is PreferenceState.UNSET
    assert resolve_headers("0", value).state is PreferenceState.ALLOW


def test_checklist_38_absent() -> None:
    absent_values: list[list[str] | tuple[str, ...] | None] = [None, [], ()]
    for absent in absent_values:
        gpc = parse_gpc(absent)
        assert gpc == GPC()
        assert not gpc.present


def test_checklist_39_several_sec_gpc_fields() -> None:
    assert parse_gpc(["0", "1"]).enabled
    assert parse_gpc(["1", "true"]).enabled
    assert parse_gpc(["yes", "", "1"]).enabled
    assert parse_gpc("0, 1").enabled  # the same fields after a WSGI server joined them
    assert not parse_gpc(["0", "true"]).enabled
    assert not parse_gpc("0, 01, yes").enabled
    assert parse_gpc(["0", "true"]).problem


def test_checklist_39_long_junk_does_not_hide_a_1() -> None:
    """An intermediary may add ``Sec-GPC: 1`` (GPC §3.2) next to any junk field.

    When the fields arrive joined, the 1 must still count, however long the junk.
    """
    junk = "x" * 5000
    assert parse_gpc(f"{junk}, 1").enabled
    assert parse_gpc([junk, "1"]).enabled
    rejected = parse_gpc(f"{junk}, 0")
    assert not rejected.enabled
    assert rejected.problem is not None
    assert len(rejected.problem) < 200  # the problem text stays a log line


@fast
@given(st.builds(GPC, enabled=st.booleans()))
def test_format_then_parse_round_trips(gpc: GPC) -> None:
    assert parse_gpc(format_gpc(gpc)) == gpc


@fast
@given(st.one_of(st.none(), header_text, st.lists(header_text, max_size=4)))
def test_parse_never_raises_and_any_exact_1_wins(values: str | list[str] | None) -> None:
    gpc = parse_gpc(values)
    fields = [] if values is None else [values] if isinstance(values, str) else values
    expected = any(EXACT_ONE.search(f) for f in fields)
    assert gpc.enabled == expected
    if gpc.enabled:
        assert gpc.problem is None
    assert gpc.present == bool(fields)
