"""The EFF DNT policy check (``specs.md`` §4 and checklist item 47).

trackpref cannot ship the policy text, so the accepting path is proven with a
stand-in table built from a text the test writes, through the same lookup.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.signals import dnt_policy
from trackpref.signals.dnt_policy import (
    DNT_POLICY_PATH,
    EFF_POLICY_HASHES,
    DNTPolicyCheck,
    check_dnt_policy,
    dnt_policy_sha1,
)

# specs.md §4, in the order EFF's dnt-policies.json lists them.
SPEC_HASHES = [
    "41ae62ddfee360fe1e0e7dbae0f35b2dc06212eb",
    "96297930e450cb795004ae5b1fcc88290a2fe982",
    "76d89351d48f10c633fd1b5273587913f0851367",
    "a18e8dba6848d3fc241b03b88291cb75a3cfec3b",
    "5b8972a0e8df8236bb28061ddc462767d4366218",
    "c09f71363bb29d0250a1f5524eef36f9ab07669b",
    "7861462d500fbb6ccb74c614782f4937377bec76",
]

STAND_IN = b"Do Not Track Compliance Policy \n\nA stand-in text for tests.\n"


def test_checklist_47_the_seven_accepted_hashes() -> None:
    assert list(EFF_POLICY_HASHES) == SPEC_HASHES
    assert all(re.fullmatch(r"[0-9a-f]{40}", h) for h in EFF_POLICY_HASHES)
    assert EFF_POLICY_HASHES["a18e8dba6848d3fc241b03b88291cb75a3cfec3b"] == "DNT Policy v1.0"
    assert len(set(EFF_POLICY_HASHES.values())) == 7
    with pytest.raises(TypeError):
        EFF_POLICY_HASHES["0" * 40] = "mine"  # type: ignore[index]
    assert DNT_POLICY_PATH == "/.well-known/dnt-policy.txt"


def test_checklist_47_compliant_iff_the_hash_is_accepted() -> None:
    digest = hashlib.sha1(STAND_IN).hexdigest()
    table = {digest: "stand-in v1"}
    assert check_dnt_policy(STAND_IN, accepted=table) == DNTPolicyCheck(True, digest, "stand-in v1")
    # Any change, even one space, is another text: EFF asks for it unmodified.
    altered = STAND_IN.replace(b"Policy \n", b"Policy\n")
    result = check_dnt_policy(altered, accepted=table)
    assert not result.compliant
    assert result.version is None
    assert result.sha1 == hashlib.sha1(altered).hexdigest()


def test_checklist_47_the_module_table_is_what_is_consulted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not check_dnt_policy(STAND_IN).compliant
    digest = hashlib.sha1(STAND_IN).hexdigest()
    monkeypatch.setattr(dnt_policy, "EFF_POLICY_HASHES", {digest: "DNT Policy v1.0"})
    assert check_dnt_policy(STAND_IN) == DNTPolicyCheck(True, digest, "DNT Policy v1.0")


def test_sha1_is_of_the_utf8_text_as_privacy_badger_reads_it() -> None:
    assert dnt_policy_sha1(b"abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert (
        dnt_policy_sha1("Überwachung".encode()) == hashlib.sha1("Überwachung".encode()).hexdigest()
    )
    # fetch().text() drops a UTF-8 BOM and replaces invalid bytes with U+FFFD.
    assert dnt_policy_sha1(b"\xef\xbb\xbfabc") == dnt_policy_sha1(b"abc")
    assert dnt_policy_sha1(b"a\xffc") == hashlib.sha1("a\ufffdc".encode()).hexdigest()


def test_an_empty_file_is_not_the_policy() -> None:
    result = check_dnt_policy(b"")
    assert not result.compliant
    assert result.sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709"


@given(st.binary(max_size=500))
def test_property_check_agrees_with_the_table(body: bytes) -> None:
    result = check_dnt_policy(body)
    assert re.fullmatch(r"[0-9a-f]{40}", result.sha1)
    assert result.compliant == (result.sha1 in EFF_POLICY_HASHES)
    assert result.version == EFF_POLICY_HASHES.get(result.sha1)
    if body.isascii() and not body.startswith(b"\xef\xbb\xbf"):
        assert result.sha1 == hashlib.sha1(body).hexdigest()


def test_checklist_47_the_policy_counts_per_host_over_https_only() -> None:
    from trackpref.signals.dnt_policy import dnt_policy_location_problems

    url = "https://shop.example/.well-known/dnt-policy.txt"
    assert dnt_policy_location_problems(url, url) == []
    [plain] = dnt_policy_location_problems(url, url.replace("https:", "http:"))
    assert "plain HTTP" in plain
    [moved] = dnt_policy_location_problems(url, "https://policies.example/dnt-policy.txt")
    assert "another host" in moved
