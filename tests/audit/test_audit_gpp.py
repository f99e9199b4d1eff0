from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.gpp import (
    GPC_SUBSECTION_SECTIONS,
    decode_gpp,
    encode_gpp,
    encode_us_section,
)
from trackpref.signals.errors import SignalError


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        # The examples of the GPP Consent String Specification.
        ("DBABM~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", (2,)),
        ("DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", (2,)),
        ("DBACNY~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", (2, 6)),
        ("DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", (2, 6)),
        ("DBABjw~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", (5, 6)),
    ],
)
def test_spec_header_examples(text: str, ids: tuple[int, ...]) -> None:
    gpp = decode_gpp(text)
    assert gpp.version == 1
    assert gpp.section_ids == ids
    assert gpp.gpc is None


def test_usnat_gpc_subsection_and_opt_outs() -> None:
    core = encode_us_section(
        7, fields=[("SaleOptOut", 1), ("TargetedAdvertisingOptOut", 1)], gpc=True
    )
    gpp = decode_gpp(encode_gpp([(7, core)]))
    section = gpp.section(7)
    assert section is not None
    assert section.prefix == "usnat"
    assert section.gpc is True
    assert section.field("SaleOptOut") == 1
    assert section.opted_out is True
    assert gpp.gpc is True


def test_usca_did_not_opt_out() -> None:
    text = encode_gpp([(8, encode_us_section(8, fields=[("SaleOptOut", 2)], gpc=False))])
    section = decode_gpp(text).section(8)
    assert section is not None
    assert section.gpc is False
    assert section.opted_out is False


def test_published_usnat_gpc_example_decodes() -> None:
    # ".QA": SubsectionType 01, Gpc 0.
    section = decode_gpp("DBABLA~BVQqAAAAAgA.QA").section(7)
    assert section is not None
    assert section.gpc is False
    assert section.version == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("CPXxRfAPXxRfAAfKABENB", "type is 2, not 3"),
        ("DBABM", "lists 1 section(s) but the string has 0"),
        ("DB!BM~x", "not a web-safe base64"),
        ("DB", "ends early"),
    ],
)
def test_bad_strings_are_named(text: str, message: str) -> None:
    with pytest.raises(SignalError, match=re.escape(message)) as info:
        decode_gpp(text)
    assert info.value.field == "gpp"


def test_a_broken_section_does_not_hide_the_others() -> None:
    good = encode_us_section(7, gpc=True)
    gpp = decode_gpp(encode_gpp([(7, good), (8, "!!")]))
    kept = gpp.section(7)
    assert kept is not None
    assert kept.gpc is True
    broken = gpp.section(8)
    assert broken is not None
    assert broken.problem is not None


@given(
    st.lists(st.sampled_from(sorted(GPC_SUBSECTION_SECTIONS)), min_size=1, max_size=5, unique=True),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_roundtrip(section_ids: list[int], flags: list[bool]) -> None:
    sections = [
        (sid, encode_us_section(sid, gpc=flag))
        for sid, flag in zip(section_ids, flags, strict=False)
    ]
    gpp = decode_gpp(encode_gpp(sections))
    assert list(gpp.section_ids) == sorted(section_ids)
    expected = dict(zip(section_ids, flags, strict=False))
    for section in gpp.sections:
        assert section.gpc is expected[section.id]


@given(st.text(max_size=200))
def test_decoding_garbage_raises_only_signal_error(text: str) -> None:
    with contextlib.suppress(SignalError):
        decode_gpp(text)


@given(st.integers(min_value=1, max_value=10_000))
def test_fibonacci_header_ids(section_id: int) -> None:
    assert decode_gpp(encode_gpp([(section_id, "x")])).section_ids == (section_id,)
