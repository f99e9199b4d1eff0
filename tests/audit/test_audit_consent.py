from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.consent import ConsentSnapshot, parse_consent, parse_onetrust, parse_usp
from trackpref.audit.gpp import encode_gpp, encode_us_section
from trackpref.signals.errors import SignalError


@pytest.mark.parametrize(
    ("text", "opted_out"), [("1YYN", True), ("1YNN", False), ("1---", None), ("1-Y-", True)]
)
def test_usp(text: str, opted_out: bool | None) -> None:
    assert parse_usp(text).opted_out is opted_out


@pytest.mark.parametrize("text", ["", "1YN", "2YYN", "1YYNN", "1yyn"])
def test_bad_usp(text: str) -> None:
    with pytest.raises(SignalError, match="US Privacy"):
        parse_usp(text)


@given(st.text(max_size=12))
def test_usp_parser_raises_only_signal_error(text: str) -> None:
    try:
        usp = parse_usp(text)
    except SignalError:
        return
    assert usp.raw[0] == "1"
    assert len(usp.raw) == 4


def test_onetrust() -> None:
    assert parse_onetrust("isGpcEnabled=1&datestamp=x") is True
    assert parse_onetrust("isGpcEnabled%3D0%26groups%3DC0001") is False
    assert parse_onetrust("groups=C0001") is None


def test_opt_out_problems_name_each_string() -> None:
    gpp = encode_gpp([(7, encode_us_section(7, fields=[("SaleOptOut", 2)], gpc=False))])
    strings = parse_consent(ConsentSnapshot(usp_api="1YNN", gpp_api=gpp, onetrust="isGpcEnabled=0"))
    problems = strings.opt_out_problems()
    assert any("US Privacy string 1YNN" in p for p in problems)
    assert any("Gpc=0" in p for p in problems)
    assert any("did not opt out" in p for p in problems)
    assert any("isGpcEnabled=0" in p for p in problems)


def test_recorded_opt_out_has_no_problems() -> None:
    gpp = encode_gpp([(7, encode_us_section(7, fields=[("SaleOptOut", 1)], gpc=True))])
    strings = parse_consent(ConsentSnapshot(usp_cookie="1YYN", onetrust_gpp=gpp))
    assert strings.present
    assert strings.opt_out_problems() == []


def test_unparseable_strings_become_problems_and_api_wins() -> None:
    strings = parse_consent(ConsentSnapshot(usp_api="garbage", usp_cookie="1YYN", gpp_api="Cxx"))
    assert strings.usp is not None
    assert strings.usp.raw == "1YYN"
    assert strings.gpp is None
    assert any(p.startswith("__uspapi:") for p in strings.problems)
    assert any(p.startswith("__gpp:") for p in strings.problems)


@given(st.text(max_size=200))
def test_onetrust_parser_never_raises(text: str) -> None:
    assert parse_onetrust(text) in (True, False, None)
