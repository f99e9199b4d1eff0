"""Parties from the Public Suffix List, and first/third party per request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.signals.decisions import PartyRole
from trackpref.signals.errors import SignalError
from trackpref.signals.parties import (
    PartyMap,
    RequestContext,
    can_set_cookie,
    classify_request,
    domain_matches,
    host_from_authority,
    host_from_url,
    is_ip_address,
    is_public_suffix,
    normalize_host,
    registrable_domain,
    same_site,
    site_of,
)

# Parse the bundled list and load the IDNA tables before any timed hypothesis example.
registrable_domain("warm.example.com")
normalize_host("bücher.example")

FP, TP, SP = PartyRole.FIRST_PARTY, PartyRole.THIRD_PARTY, PartyRole.SERVICE_PROVIDER

# -- normalize_host -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[2001:DB8:0:0:0:0:0:1]", "2001:db8::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("faß.de", "xn--fa-hia.de"),  # non-transitional, as browsers
        ("ＥＸＡＭＰＬＥ．com", "example.com"),  # full-width forms map
        ("example_vids.net", "example_vids.net"),  # the TSR example's underscore
        ("localhost", "localhost"),
    ],
)
def test_normalize_host_canonical_form(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ".",
        "a..b",
        ".example.com",
        "example.com..",
        "exa mple.com",
        " example.com",
        "example.com\n",
        "example.com:80",
        "example.com/path",
        "user@example.com",
        "*.example.com",
        "*",
        "a" * 64 + ".com",
        ".".join(["abcdefghi"] * 30),  # 299 characters
        "1.2.3",  # a number at the end: an IPv4 address or nothing
        "256.1.1.1",
        "[1.2.3.4]",
        "[::1",
        "::1%eth0",
        "xn--abc-",  # decodes to ASCII: not an A-label
        "xn--zz-0000000000",
        "ex\x00ample.com",
        "x" * 2000,
    ],
)
def test_normalize_host_refuses_garbage_with_signal_error(raw: str) -> None:
    with pytest.raises(SignalError) as info:
        normalize_host(raw)
    assert info.value.field == "host"


@pytest.mark.parametrize("raw", [None, 3, b"example.com", ["example.com"]])
def test_normalize_host_refuses_non_strings(raw: object) -> None:
    with pytest.raises(SignalError, match="expected a string"):
        normalize_host(raw)  # type: ignore[arg-type]


@given(st.text(max_size=80))
def test_normalize_host_is_a_fixed_point(text: str) -> None:
    try:
        once = normalize_host(text)
    except SignalError:
        return
    assert normalize_host(once) == once
    assert once == once.lower()
    assert once.isascii()


# -- registrable domains and public suffixes ---------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("www.foo.bar.example.com", "example.com"),
        ("news.example.co.uk", "example.co.uk"),
        ("WWW.Example.COM.", "example.com"),
        ("x.github.io", "x.github.io"),  # the list's private section counts, as in browsers
        ("a.b.x.github.io", "x.github.io"),
        ("city.kobe.jp", "city.kobe.jp"),  # an exception rule under a wildcard
        ("foo.test", "foo.test"),  # an unknown TLD is a public suffix
        ("bücher.de", "xn--bcher-kva.de"),
        ("localhost", "localhost"),  # single label, not listed: its own site
        ("intranet", "intranet"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("com", None),
        ("co.uk", None),
        ("github.io", None),
        ("kobe.jp", None),
        ("a.kobe.jp", None),  # *.kobe.jp
    ],
)
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected
    # A single-label name is its own site, yet nobody may scope cookies to it.
    single_label = "." not in host and ":" not in host and not host[0].isdigit()
    assert is_public_suffix(host) is (expected is None or single_label)


@pytest.mark.parametrize("suffix", ["test", "internal", "lan", "local", "localhost"])
def test_an_unlisted_top_level_label_is_a_suffix_nobody_scopes_cookies_or_parties_to(
    suffix: str,
) -> None:
    # Browsers apply the list's default rule: Domain=test from a.test is refused,
    # so a script on evil.test must not grant exceptions over all of .test.
    assert not can_set_cookie(f"evil.{suffix}", suffix)
    assert can_set_cookie(f"evil.{suffix}", f"evil.{suffix}")
    assert can_set_cookie(suffix, suffix)  # its own host: a host-only cookie
    with pytest.raises(SignalError, match="public suffix"):
        PartyMap(first_party=("shop.example",), same_party=(suffix,))


@given(
    st.one_of(st.text(max_size=60), st.text(alphabet="abcxyz.-_:[]*0123456789üß。", max_size=40))
)
def test_registrable_domain_raises_only_signal_error_on_arbitrary_text(text: str) -> None:
    try:
        result = registrable_domain(text)
    except SignalError:
        return
    assert result is None or result == normalize_host(result)


@given(
    st.from_regex(
        r"[a-z]{1,10}(\.[a-z]{1,10}){0,3}\.(com|co\.uk|github\.io|jp|test)", fullmatch=True
    )
)
def test_registrable_domain_is_a_suffix_of_the_host(host: str) -> None:
    reg = registrable_domain(host)
    if reg is not None:
        assert host == reg or host.endswith("." + reg)
        assert registrable_domain(reg) == reg
        assert same_site(host, reg)


def test_same_site_compares_registrable_domains() -> None:
    assert same_site("news.example.com", "WWW.EXAMPLE.COM")
    assert not same_site("example.com", "example.net")
    assert not same_site("a.github.io", "b.github.io")
    assert same_site("github.io", "github.io")  # a public suffix is its own site
    assert site_of("github.io") == "github.io"
    assert not same_site("127.0.0.1", "127.0.0.2")


def test_is_ip_address() -> None:
    assert is_ip_address("10.0.0.1")
    assert is_ip_address("[fe80::1]")
    assert not is_ip_address("example.com")


# -- RFC 6265 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "domain", "expected"),
    [
        ("example.com", "example.com", True),
        ("www.example.com", "example.com", True),
        ("www.example.com", ".example.com", True),  # RFC 6265 §5.2.3 ignores the dot
        ("example.com", "www.example.com", False),
        ("badexample.com", "example.com", False),
        ("192.168.0.1", "192.168.0.1", True),
        ("EXAMPLE.com", "example.COM.", True),
    ],
)
def test_domain_matches(host: str, domain: str, expected: bool) -> None:
    assert domain_matches(host, domain) is expected


def test_domain_matches_an_ip_only_by_identity() -> None:
    assert domain_matches("192.168.0.1", "192.168.0.1")
    assert not domain_matches("10.0.0.1", "10.0.0.2")
    with pytest.raises(SignalError):
        domain_matches("192.168.0.1", "168.0.1")  # ends in a number: not a valid host


def test_checklist_11_can_set_cookie_on_parent_domain_not_sibling_or_tld() -> None:
    script = "www.foo.bar.example.com"
    assert can_set_cookie(script, "bar.example.com")
    assert can_set_cookie(script, "example.com")
    assert can_set_cookie(script, script)
    assert not can_set_cookie(script, "something.else.example.com")
    assert not can_set_cookie(script, "com")
    assert not can_set_cookie(script, "www.foo.bar.example.com.evil.test")


def test_can_set_cookie_refuses_a_public_suffix_unless_it_is_the_host() -> None:
    assert not can_set_cookie("x.github.io", "github.io")
    assert can_set_cookie("x.github.io", "x.github.io")
    assert can_set_cookie("github.io", "github.io")  # host-only (RFC 6265 §5.3 step 5)
    assert can_set_cookie("localhost", "localhost")
    assert can_set_cookie("127.0.0.1", "127.0.0.1")
    assert not can_set_cookie("127.0.0.1", "localhost")


# -- PartyMap ----------------------------------------------------------------------------


def test_party_map_roles_follow_domain_match() -> None:
    parties = PartyMap(
        first_party=("Example.com",),
        same_party=("example_vids.net", "example_stats.com"),
        service_providers=("metrics.provider.example",),
    )
    assert parties.first_party == ("example.com",)
    assert parties.role_of("www.example.com") is FP
    assert parties.role_of("cdn.example_vids.net") is FP
    assert parties.role_of("metrics.provider.example") is SP
    assert parties.role_of("eu.metrics.provider.example") is SP
    assert parties.role_of("other.provider.example") is TP
    assert parties.role_of("example.org") is TP


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first_party": ("com",)},
        {"first_party": ("example.com",), "same_party": ("co.uk",)},
        {"first_party": ("example.com",), "service_providers": ("github.io",)},
        {"first_party": ("exa mple.com",)},
        {"first_party": "example.com"},  # a string is not a list of domains
        {"first_party": ("*.example.com",)},
    ],
)
def test_party_map_refuses_public_suffixes_and_garbage(kwargs: dict[str, object]) -> None:
    with pytest.raises(SignalError):
        PartyMap(**kwargs)  # type: ignore[arg-type]


def test_party_map_role_of_garbage_raises_signal_error() -> None:
    with pytest.raises(SignalError):
        PartyMap(first_party=("example.com",)).role_of("not a host")


# -- classify_request ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["same-origin", "same-site", "none", " same-site "])
def test_sec_fetch_site_same_or_none_is_first_party(value: str) -> None:
    ctx = classify_request(host="www.example.com", sec_fetch_site=value)
    assert ctx.role is FP
    assert ctx.site == "example.com"
    assert "Sec-Fetch-Site" in ctx.reason


def test_sec_fetch_site_cross_site_is_third_party_with_initiating_site() -> None:
    ctx = classify_request(
        host="metrics.example.net",
        sec_fetch_site="cross-site",
        origin="https://news.example.com",
    )
    assert ctx == RequestContext(TP, "example.com", ctx.reason)
    assert "cross-site" in ctx.reason
    assert classify_request(host="metrics.example.net", sec_fetch_site="cross-site").site is None


def test_cross_site_top_level_navigation_is_first_party() -> None:
    ctx = classify_request(
        host="shop.example",
        sec_fetch_site="cross-site",
        sec_fetch_mode="navigate",
        sec_fetch_dest="document",
        referer="https://search.example.org/?q=shoes",
    )
    assert ctx.role is FP
    assert ctx.site == "shop.example"
    framed = classify_request(
        host="shop.example",
        sec_fetch_site="cross-site",
        sec_fetch_mode="navigate",
        sec_fetch_dest="iframe",
    )
    assert framed.role is TP


def test_cross_site_from_a_declared_same_party_domain_is_first_party() -> None:
    parties = PartyMap(first_party=("example.com",), same_party=("example_vids.net",))
    ctx = classify_request(
        host="www.example.com",
        sec_fetch_site="cross-site",
        origin="https://player.example_vids.net",
        parties=parties,
    )
    assert ctx.role is FP
    assert ctx.site == "example_vids.net"
    assert "same party" in ctx.reason


def test_service_provider_host_in_its_clients_context() -> None:
    parties = PartyMap(
        first_party=("example.com",), service_providers=("metrics.provider.example",)
    )
    ctx = classify_request(
        host="metrics.provider.example:8443",
        sec_fetch_site="cross-site",
        referer="https://www.example.com/page",
        parties=parties,
    )
    assert ctx.role is SP
    elsewhere = classify_request(
        host="metrics.provider.example",
        sec_fetch_site="cross-site",
        referer="https://other.example.org/",
        parties=parties,
    )
    assert elsewhere.role is TP


@pytest.mark.parametrize(
    ("origin", "referer", "role", "site"),
    [
        ("https://www.example.com", None, FP, "example.com"),
        ("https://tracker.example.net", None, TP, "example.net"),
        (None, "https://example.com/a?b", FP, "example.com"),
        (None, "http://other.example.org/", TP, "example.org"),
        ("null", "https://other.example.org/", TP, "example.org"),  # opaque: use Referer
        ("https://example_vids.net", None, FP, "example_vids.net"),  # declared same party
        ("https://[::1]:8000", None, TP, "::1"),
    ],
)
def test_without_sec_fetch_site_origin_then_referer_decide(
    origin: str | None, referer: str | None, role: PartyRole, site: str
) -> None:
    parties = PartyMap(first_party=("example.com",), same_party=("example_vids.net",))
    ctx = classify_request(host="example.com", origin=origin, referer=referer, parties=parties)
    assert (ctx.role, ctx.site) == (role, site)


def test_no_information_is_assumed_first_party_and_says_so() -> None:
    ctx = classify_request(host="example.com")
    assert ctx.role is FP
    assert "assumed" in ctx.reason
    junk = classify_request(
        host="example.com", sec_fetch_site="bogus", origin="null", referer="not a url"
    )
    assert junk.role is FP
    assert "assumed" in junk.reason


@pytest.mark.parametrize(
    "value",
    [
        "http://[abc",
        "http://exa mple.com/",
        "javascript:alert(1)",
        "https://",
        "https://a..b/",
        "file:///etc/passwd",
        "https://example.com:99999999/",
        "\x00",
        "x" * 10000,
    ],
)
def test_malformed_origin_or_referer_never_raises(value: str) -> None:
    for ctx in (
        classify_request(host="example.com", origin=value),
        classify_request(host="example.com", referer=value, sec_fetch_site="cross-site"),
    ):
        assert isinstance(ctx, RequestContext)
    assert host_from_url(value) is None


@given(
    sec_fetch_site=st.one_of(st.none(), st.text(max_size=20)),
    origin=st.one_of(st.none(), st.text(max_size=60)),
    referer=st.one_of(st.none(), st.text(max_size=60)),
)
def test_classify_request_never_raises_on_client_headers(
    sec_fetch_site: str | None, origin: str | None, referer: str | None
) -> None:
    ctx = classify_request(
        host="example.com", sec_fetch_site=sec_fetch_site, origin=origin, referer=referer
    )
    assert ctx.role in (FP, TP)
    assert ctx.reason


@pytest.mark.parametrize("host", ["", "exa mple.com", "example.com:http", "a@b", "[::1]x"])
def test_bad_host_header_raises_signal_error(host: str) -> None:
    with pytest.raises(SignalError):
        classify_request(host=host)


def test_host_from_authority() -> None:
    assert host_from_authority("Example.com:8080") == "example.com"
    assert host_from_authority("[::1]:80") == "::1"
    assert host_from_authority("::1") == "::1"
    assert host_from_authority("example.com") == "example.com"
