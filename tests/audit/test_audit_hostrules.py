from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.hostrules import HostNotFound, parse_host_rules


def test_map_wildcard_keeps_the_port() -> None:
    rules = parse_host_rules("MAP *.test 127.0.0.1")
    assert rules.resolve("shop.test", 8000) == ("127.0.0.1", 8000)
    assert rules.resolve("a.b.test", 443) == ("127.0.0.1", 443)
    assert rules.resolve("example.com", 443) is None
    assert rules.chromium_arg == "--host-resolver-rules=MAP *.test 127.0.0.1"


def test_replacement_port_and_case_insensitive_match() -> None:
    rules = parse_host_rules("map Shop.TEST 10.0.0.1:9000")
    assert rules.resolve("shop.test", 80) == ("10.0.0.1", 9000)


def test_exclusions_win_and_first_map_wins() -> None:
    rules = parse_host_rules("MAP *.test 127.0.0.1, MAP a.test 10.0.0.2, EXCLUDE real.test")
    assert rules.resolve("a.test", 80) == ("127.0.0.1", 80)
    assert rules.resolve("real.test", 80) is None


def test_pattern_with_port_only_matches_that_port() -> None:
    rules = parse_host_rules("MAP *.test:8443 127.0.0.1:9443")
    assert rules.resolve("x.test", 8443) == ("127.0.0.1", 9443)
    assert rules.resolve("x.test", 80) is None


def test_ipv6_replacement() -> None:
    rules = parse_host_rules("MAP v6.test [::1]:8080")
    assert rules.resolve("v6.test", 80) == ("[::1]", 8080)


def test_notfound() -> None:
    rules = parse_host_rules("MAP gone.test ~NOTFOUND, MAP *.test 127.0.0.1")
    with pytest.raises(HostNotFound, match=r"gone\.test"):
        rules.resolve("gone.test", 80)
    assert rules.resolve("here.test", 80) == ("127.0.0.1", 80)


def test_empty_rules_are_falsy_and_pass_nothing_to_chromium() -> None:
    rules = parse_host_rules(" , ")
    assert not rules
    assert rules.chromium_arg is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("REWRITE a b", "unknown rule 'REWRITE'"),
        ("MAP *.test", "expected 'MAP <pattern> <replacement>'"),
        ("MAP *.test 127.0.0.1:99999", "bad port"),
        ("MAP *.test 127.0.0.1:\u00b2", "bad port"),
        ("MAP *.test 127.0.0.1:" + "9" * 5000, "bad port"),
        ("MAP *.test 127.*.0.1", "cannot hold wildcards"),
        ("MAP a/b 127.0.0.1", "not a host name"),
        ("EXCLUDE", "expected 'EXCLUDE <pattern>'"),
        ("MAP x.test [::1", "unterminated IPv6"),
    ],
)
def test_bad_rules_name_the_rule(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="host rule 1") as info:
        parse_host_rules(text)
    assert message in str(info.value)


@given(st.text(max_size=80))
def test_parse_never_fails_with_anything_but_value_error(text: str) -> None:
    try:
        rules = parse_host_rules(text)
    except ValueError:
        return
    for host in ("a.test", "example.com"):
        try:
            out = rules.resolve(host, 80)
        except HostNotFound:
            continue
        assert out is None or isinstance(out[0], str)


@given(st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True))
def test_star_matches_every_name_under_the_suffix(label: str) -> None:
    rules = parse_host_rules("MAP *.test 127.0.0.1")
    assert rules.resolve(label + ".test", 1234) == ("127.0.0.1", 1234)
    assert rules.resolve(label + ".example", 1234) is None
