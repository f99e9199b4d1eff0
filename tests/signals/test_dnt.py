"""The ``DNT`` request header against TPE §4 and checklist items 1-6 and 8 (specs.md §7).

The grammar oracles below are written from the ABNF text, not from the module,
so that a wrong range in :mod:`trackpref.signals.dnt` shows up as a disagreement.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.signals.dnt import (
    DNT,
    MAX_FIELD_LENGTH,
    format_dnt,
    is_extension_char,
    navigator_do_not_track,
    parse_dnt,
)
from trackpref.signals.errors import SignalError
from trackpref.signals.preference import Preference, PreferenceState, resolve_headers

# DNT-extension = %x21 / %x23-2B / %x2D-5B / %x5D-7E: visible ASCII except DQUOTE,
# comma and backslash.
EXTENSION_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('",\\')
VALID_VALUE = re.compile(r"[01][!#-+\--\[\]-~]*")

fast = settings(deadline=None)

extensions = st.text(alphabet=sorted(EXTENSION_CHARS), max_size=MAX_FIELD_LENGTH - 1)
valid_dnt = st.one_of(
    st.builds(DNT),
    st.builds(DNT, choice=st.sampled_from(["0", "1"]), extensions=extensions),
)
#: Text that often looks like a DNT value: a choice, extension-ish characters,
#: commas, whitespace and the odd non-ASCII character.
dnt_like = st.text(alphabet=st.sampled_from([*'01 \t,"\\x2é\x00\x7f', "1", "0"]), max_size=12)
#: Fields an intermediary joined with commas, and values around the length cap.
joined = st.lists(
    st.sampled_from(["1", "0", "1x", " 1 ", "x", "", "1\\"]), min_size=2, max_size=3
).map(",".join)
long_values = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["0", "1", " 1"]),
        st.text(alphabet=sorted(EXTENSION_CHARS), min_size=55, max_size=70),
    ),
)
header_text = st.one_of(st.text(), dnt_like, joined, long_values)


def test_checklist_01_dnt_1_0_absent() -> None:
    one = parse_dnt("1")
    assert (one.choice, one.do_not_track, one.allow, one.problem) == ("1", True, False, None)
    zero = parse_dnt("0")
    assert (zero.choice, zero.do_not_track, zero.allow, zero.problem) == ("0", False, True, None)
    # Absent is "no preference", which is not DNT:0.
    absent_values: list[list[str] | tuple[str, ...] | None] = [None, [], ()]
    for absent in absent_values:
        dnt = parse_dnt(absent)
        assert dnt == DNT()
        assert dnt.choice is None
        assert not dnt.allow
        assert not dnt.present
    assert resolve_headers(None, None).state is PreferenceState.UNSET
    assert resolve_headers("0", None).state is PreferenceState.ALLOW


def test_checklist_02_dnt_extensions() -> None:
    dnt = parse_dnt("1xyz")
    assert dnt == DNT(choice="1", extensions="xyz")
    # A server without extension support reads only the first character.
    assert dnt.do_not_track
    assert resolve_headers("1xyz", None).state is PreferenceState.DO_NOT_TRACK
    assert parse_dnt("0abc").allow
    assert parse_dnt("1!#+-[]~").extensions == "!#+-[]~"


def test_checklist_02_long_extensions_keep_the_choice() -> None:
    """An over-long but grammatical value is still DNT:1 (TPE §4: ignore the rest).

    The parser caps what it keeps, not what it honors: dropping the field would
    turn a do-not-track into no preference.
    """
    value = "1" + "x" * 500
    dnt = parse_dnt(value)
    assert dnt.choice == "1"
    assert dnt.extensions == ""
    assert dnt.problem is not None
    assert "ignored" in dnt.problem
    assert resolve_headers(value, None).state is PreferenceState.DO_NOT_TRACK
    at_limit = "0" + "y" * (MAX_FIELD_LENGTH - 1)
    assert parse_dnt(at_limit) == DNT(choice="0", extensions="y" * (MAX_FIELD_LENGTH - 1))


@pytest.mark.parametrize("value", ["2", "yes", "", " ", "no", "true", "x1", "-1", "١", "\t"])
def test_checklist_03_dnt_bad_first_character(value: str) -> None:
    """A value outside the ABNF is no valid preference ([U]: the safest reading).

    It must not be guessed into DNT:1 or DNT:0; the problem is kept so that broken
    agents can be counted, and the request resolves like an absent header.
    """
    dnt = parse_dnt(value)
    assert dnt.choice is None
    assert dnt.problem
    assert dnt.present
    assert resolve_headers(value, None).state is PreferenceState.UNSET


@pytest.mark.parametrize("value", ['1"x', "1,0", "1\\x", "1 x", "1\x7f", "0é", "1\x00", "1\tx"])
def test_checklist_04_dnt_extension_characters(value: str) -> None:
    dnt = parse_dnt(value)
    assert dnt.choice is None, value
    assert dnt.problem
    with pytest.raises(SignalError) as info:
        DNT(choice="1", extensions=value[1:])
    assert info.value.field == "DNT"


def test_checklist_04_extension_range_matches_the_abnf() -> None:
    for code in range(0x110):
        ch = chr(code)
        assert is_extension_char(ch) == (ch in EXTENSION_CHARS), hex(code)


def test_checklist_05_two_dnt_fields() -> None:
    """Two DNT fields make the request invalid (TPE §4): no valid preference.

    The issue fixes the handling TPE leaves open: repeated fields mean no valid
    preference, even when they agree, and the problem is recorded.
    """
    for fields in (
        ["1", "0"],
        ["0", "1"],
        ["1", "x"],
        ["1", ""],
        "1, 0",
        "1,x",
        ["0", "0"],
        "0, 0",
        ["0"] * 3,
        ["1", "1"],
        "1, 1",
        "1,1",
        ["1xy", "1"],
    ):
        dnt = parse_dnt(fields)
        assert dnt.choice is None, fields
        assert not dnt.allow
        assert not dnt.do_not_track
        assert dnt.problem
    assert "2 DNT fields" in (parse_dnt(["1", "0"]).problem or "")
    assert "comma" in (parse_dnt("1,0").problem or "")


def test_checklist_06_ua_default_unset() -> None:
    """With no DNT header the preference is unset and ``navigator.doNotTrack`` null."""
    assert Preference().state is PreferenceState.UNSET
    assert Preference().is_unset
    assert resolve_headers(None, None).is_unset
    assert navigator_do_not_track(parse_dnt(None)) is None
    assert format_dnt(parse_dnt(None)) is None


def test_checklist_08_navigator_do_not_track() -> None:
    assert navigator_do_not_track(parse_dnt("1")) == "1"
    assert navigator_do_not_track(parse_dnt("0")) == "0"
    assert navigator_do_not_track(parse_dnt("1xyz")) == "1xyz"
    assert navigator_do_not_track(parse_dnt(" 0ab ")) == "0ab"
    # No valid preference means no DNT would be sent, so the attribute is null.
    assert navigator_do_not_track(parse_dnt("yes")) is None


@fast
@given(valid_dnt)
def test_checklist_08_navigator_equals_the_value_sent(dnt: DNT) -> None:
    assert navigator_do_not_track(dnt) == format_dnt(dnt)


def test_ows_is_trimmed_but_inner_space_is_not() -> None:
    assert parse_dnt(" \t1\t ") == DNT(choice="1")
    assert parse_dnt(" 1x ") == DNT(choice="1", extensions="x")
    assert parse_dnt("1 ").choice == "1"
    # Only SP and HTAB are OWS (RFC 9110 §5.6.3).
    assert parse_dnt("1\r").choice is None
    assert parse_dnt("\n1").choice is None


def test_construction_checks_every_part() -> None:
    with pytest.raises(SignalError, match="choice"):
        DNT(choice="2")  # type: ignore[arg-type]
    with pytest.raises(SignalError, match="need a choice"):
        DNT(extensions="x")
    with pytest.raises(SignalError, match="longer"):
        DNT(choice="1", extensions="x" * MAX_FIELD_LENGTH)
    with pytest.raises(SignalError, match="string"):
        DNT(choice="1", extensions=5)  # type: ignore[arg-type]
    assert DNT(choice="1", extensions="x" * (MAX_FIELD_LENGTH - 1)).value is not None


def test_present_distinguishes_absent_from_broken() -> None:
    assert not DNT().present
    assert DNT(problem="bad").present
    assert DNT(choice="0").present


@fast
@given(valid_dnt)
def test_format_then_parse_round_trips(dnt: DNT) -> None:
    assert parse_dnt(format_dnt(dnt)) == dnt


@fast
@given(st.one_of(st.none(), header_text, st.lists(header_text, max_size=4)))
def test_parse_never_raises(values: str | list[str] | None) -> None:
    dnt = parse_dnt(values)
    assert dnt.choice in (None, "0", "1")
    if dnt.choice is None:
        assert dnt.extensions == ""


@fast
@given(header_text)
def test_one_field_matches_the_abnf(text: str) -> None:
    """An independent oracle: a regular expression written from the ABNF."""
    dnt = parse_dnt(text)
    value = text.strip(" \t")
    if "," in value:
        assert dnt.choice is None
        assert dnt.problem
    elif VALID_VALUE.fullmatch(value):
        assert dnt.choice == value[0]
        if len(value) <= MAX_FIELD_LENGTH:
            assert dnt.extensions == value[1:]
            assert dnt.problem is None
        else:
            assert dnt.extensions == ""
            assert dnt.problem
    else:
        assert dnt.choice is None
        assert dnt.problem


@fast
@given(st.lists(header_text, min_size=2, max_size=4))
def test_repeated_fields_never_allow(fields: list[str]) -> None:
    dnt = parse_dnt(fields)
    assert dnt.choice is None
    assert dnt.problem


def build_dnt(choice: object, exts: object, problem: object) -> DNT | SignalError:
    try:
        return DNT(choice=choice, extensions=exts, problem=problem)  # type: ignore[arg-type]
    except SignalError as exc:
        return exc


@fast
@given(
    choice=st.one_of(st.none(), st.text(max_size=3), st.integers()),
    exts=st.one_of(st.text(max_size=80), extensions, st.integers(), st.none()),
    problem=st.one_of(st.none(), st.text(max_size=5), st.integers()),
)
def test_construction_raises_only_signal_error(
    choice: object, exts: object, problem: object
) -> None:
    dnt = build_dnt(choice, exts, problem)
    if isinstance(dnt, SignalError):
        assert dnt.field == "DNT"
        return
    # Whatever was accepted is a value a conforming agent could send.
    assert dnt.choice in (None, "0", "1")
    assert isinstance(dnt.extensions, str)
    assert all(c in EXTENSION_CHARS for c in dnt.extensions)
    assert dnt.problem is None or isinstance(dnt.problem, str)
    if dnt.value is not None:
        assert VALID_VALUE.fullmatch(dnt.value)
        assert len(dnt.value) <= MAX_FIELD_LENGTH
