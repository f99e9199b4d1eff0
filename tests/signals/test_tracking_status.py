"""TSV and ``Tk`` against TPE §6.2-6.3 and checklist items 20-24 and 36 (specs.md §7).

The character sets are spelled out from the ABNF comments in specs.md §1.6, not
computed from the module's ranges, so the two are independent.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.signals.errors import SignalError
from trackpref.signals.tracking_status import (
    MAX_TK_LENGTH,
    TSV,
    Tk,
    effective_status,
    format_tk,
    is_status_id,
    is_tsv,
    is_tsv_extension,
    parse_tk,
)

fast = settings(deadline=None)

DEFINED = "!?GNTCPDU"
EXTENSIONS = (
    "#$%" + "*+,-./" + string.digits + ":;" + "@AB" + "EF" + "HIJKLM" + "O" + "QRS" + "VWXYZ" + "_"
) + string.ascii_lowercase
ID_CHARS = string.ascii_letters + string.digits + "_-+=/"

status_ids = st.text(alphabet=ID_CHARS, min_size=1, max_size=40)
#: Statuses a Tk may carry without a status-id: every TSV but G and ?.
plain_statuses = st.sampled_from(sorted(set(DEFINED + EXTENSIONS) - {"G", "?"}))
valid_tk = st.one_of(
    st.builds(Tk, status=plain_statuses, status_id=st.one_of(st.none(), status_ids)),
    st.builds(Tk, status=st.just("?"), status_id=status_ids),
)


def test_tsv_sets_match_the_abnf() -> None:
    assert len(EXTENSIONS) == len(set(EXTENSIONS))
    assert not set(DEFINED) & set(EXTENSIONS)
    assert {v.value for v in TSV} == set(DEFINED)
    for code in range(0x200):
        ch = chr(code)
        assert is_tsv(ch) == (ch in DEFINED or ch in EXTENSIONS), hex(code)
        assert is_tsv_extension(ch) == (ch in EXTENSIONS), hex(code)
    # Excluded on purpose: & ' ( ) < = > [ \ ] ^ ` { | } ~ SP DQUOTE and controls.
    for ch in "&'()<=>[\\]^`{|}~ \"\x00\x7f":
        assert not is_tsv(ch)
    for value in ("", "NN", "N;", "TT", "n1"):
        assert not is_tsv(value)
        assert not is_tsv_extension(value)


@pytest.mark.parametrize("value", ["N", "T", "C", "P", "D", "U", "!", "x", ",", ";", "N;abc"])
def test_checklist_20_tk_grammar(value: str) -> None:
    """``Tk-field-value = TSV [ ";" status-id ]``; ``,`` and ``;`` are TSV-extensions."""
    tk = parse_tk(value)
    assert format_tk(tk) == value
    assert str(tk) == value


def test_checklist_20_status_id() -> None:
    assert parse_tk("T;fRx42") == Tk("T", "fRx42")
    assert parse_tk("N;a_b-c+d=e/f") == Tk("N", "a_b-c+d=e/f")
    assert parse_tk(" T;x ") == Tk("T", "x")  # OWS around the whole value only
    assert parse_tk(";;x") == Tk(";", "x")
    assert parse_tk(",;x") == Tk(",", "x")
    # Case-sensitive: "n" is an extension, not "N"; status-ids keep their case.
    assert parse_tk("n").status == "n"
    assert parse_tk("T;ABC") != parse_tk("T;abc")
    for ch in ID_CHARS:
        assert is_status_id(ch)
    for bad in ("", "a b", "a.b", "a;b", "a,b", "é", "a~", "a%20", "../x", "a\x00"):
        assert not is_status_id(bad), bad


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("N;", "no status-id"),
        ("NT", "expected ';'"),
        ("N ;a", "expected ';'"),
        ("N; a", "status-id"),
        ("N;a b", "status-id"),
        ("N;a.b", "status-id"),
        ("&", "not a TSV"),
        ("\u00e9", "not a TSV"),
        ("N, T", "comma"),
        ("N;a,b", "comma"),
        ("T" + ";" + "x" * MAX_TK_LENGTH, "longer"),
    ],
)
def test_checklist_20_bad_tk_values(value: str, needle: str) -> None:
    with pytest.raises(SignalError, match=needle) as info:
        parse_tk(value)
    assert info.value.field == "Tk"


def test_checklist_21_tk_dynamic_needs_status_id() -> None:
    """``Tk: ?`` must carry a status-id (TPE §6.3).

    Sending Tk on every response under a site-wide ``?`` or ``G`` is the
    middleware's duty; the core guarantees only that such a Tk can be built.
    """
    with pytest.raises(SignalError, match="status-id"):
        parse_tk("?")
    with pytest.raises(SignalError, match="status-id"):
        Tk("?")
    with pytest.raises(SignalError, match="status-id"):
        Tk(TSV.DYNAMIC, "")
    tk = parse_tk("?;ahoy")
    assert tk == Tk("?", "ahoy")
    assert tk.resource_path == "/.well-known/dnt/ahoy"


def test_checklist_22_tk_never_g() -> None:
    """``G`` is site-wide only. ``U`` is a valid Tk value (TPE §6.2).

    That ``U`` goes only on responses to state-changing requests is a rule for the
    sender that knows the request; the core accepts ``U`` in Tk.
    """
    for value in ("G", "G;x"):
        with pytest.raises(SignalError, match="'G'") as info:
            parse_tk(value)
        assert info.value.field == "Tk"
    with pytest.raises(SignalError, match="'G'"):
        Tk(TSV.GATEWAY, "bid")
    assert parse_tk("U") == Tk(TSV.UPDATED)


def test_checklist_23_status_id_resolves_to_well_known() -> None:
    assert parse_tk("T;fRx42").resource_path == "/.well-known/dnt/fRx42"
    assert Tk("N").resource_path == "/.well-known/dnt/"  # the site-wide TSR, trailing slash
    assert Tk("T", "a/b").resource_path == "/.well-known/dnt/a/b"


def test_checklist_24_one_tk_per_response() -> None:
    with pytest.raises(SignalError, match="2 Tk fields"):
        parse_tk(["N", "N"])
    with pytest.raises(SignalError, match="3 Tk fields"):
        parse_tk(("N", "T", "C"))
    with pytest.raises(SignalError, match="no Tk field"):
        parse_tk([])
    assert parse_tk(["N"]) == Tk("N")


def test_checklist_36_unknown_extension_is_p() -> None:
    for ext in EXTENSIONS:
        assert effective_status(ext) == "P", ext
    for value in DEFINED:
        assert effective_status(value) == value
    assert effective_status(parse_tk("x;abc").status) == TSV.POTENTIAL_CONSENT
    for bad in ("", "&", "NN", "é"):
        with pytest.raises(SignalError) as info:
            effective_status(bad)
        assert info.value.field == "tracking"


def test_descriptions_cover_every_value() -> None:
    for value in TSV:
        assert value.description


@fast
@given(valid_tk)
def test_format_then_parse_round_trips(tk: Tk) -> None:
    assert parse_tk(format_tk(tk)) == tk


def build_tk(status: object, status_id: object) -> Tk | SignalError:
    try:
        return Tk(status, status_id)  # type: ignore[arg-type]
    except SignalError as exc:
        return exc


@fast
@given(
    status=st.one_of(st.text(max_size=2), st.sampled_from(DEFINED), st.integers(), st.none()),
    status_id=st.one_of(st.none(), st.text(max_size=6), status_ids, st.integers()),
)
def test_construction_raises_only_signal_error(status: object, status_id: object) -> None:
    tk = build_tk(status, status_id)
    if isinstance(tk, SignalError):
        assert tk.field == "Tk"
        return
    assert isinstance(tk.status, str)
    assert tk.status in DEFINED + EXTENSIONS
    assert tk.status != "G"
    assert tk.status_id is None or (tk.status_id and set(tk.status_id) <= set(ID_CHARS))
    assert tk.status != "?" or tk.status_id is not None


@fast
@given(st.one_of(st.text(max_size=8), st.lists(st.text(max_size=4), max_size=3)))
def test_parse_raises_only_signal_error(values: str | list[str]) -> None:
    try:
        tk = parse_tk(values)
    except SignalError:
        return
    value = (values if isinstance(values, str) else values[0]).strip(" \t")
    assert format_tk(tk) == value
