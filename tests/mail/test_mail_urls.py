from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from trackpref.mail.urls import (
    _parse_query,
    _split_plain,
    registrable_domain,
    same_site,
    split_url,
    strip_query_keys,
)


def test_split_url_takes_a_web_url_apart() -> None:
    parts = split_url("https://U1.CT.SendGrid.net:443/wf/open?upn=abc&x=&y=1#frag")
    assert parts is not None
    assert parts.host == "u1.ct.sendgrid.net"
    assert parts.segments == ("wf", "open")
    assert parts.query == (("upn", "abc"), ("x", ""), ("y", "1"))
    assert parts.query_keys == frozenset({"upn", "x", "y"})


def test_split_url_accepts_scheme_relative_urls() -> None:
    parts = split_url("//cdn.example/a.png")
    assert parts is not None
    assert parts.host == "cdn.example"


def test_split_url_refuses_what_is_not_a_web_url() -> None:
    for value in (
        "",
        "cid:logo@shop",
        "data:image/gif;base64,R0lGOD",
        "mailto:a@b.example",
        "javascript:alert(1)",
        "/relative/path.png",
        "http://[::1",
        "https://",
        "https://exa mple.com/",
        "https://x.example/" + "a" * 20_000,
    ):
        assert split_url(value) is None, value


def test_registrable_domain_uses_the_public_suffix_list() -> None:
    assert registrable_domain("u123.ct.sendgrid.net") == "sendgrid.net"
    assert registrable_domain("shop.example.co.uk") == "example.co.uk"
    assert registrable_domain("localhost") == "localhost"
    assert same_site("news.shop.example", "cdn.shop.example")
    assert not same_site("shop.example", "shop.example.evil.example")


def test_strip_query_keys_keeps_every_other_byte() -> None:
    url = "https://shop.example/p?utm_source=x%20y&mc_eid=abc&a=1+2&MC_EID=z#top"
    assert (
        strip_query_keys(url, frozenset({"mc_eid"}))
        == "https://shop.example/p?utm_source=x%20y&a=1+2#top"
    )
    assert (
        strip_query_keys("https://shop.example/p?mc_eid=1", frozenset({"mc_eid"}))
        == "https://shop.example/p"
    )
    assert strip_query_keys("https://shop.example/p", frozenset({"a"})) == "https://shop.example/p"


@given(st.text(max_size=300))
def test_split_url_never_raises(value: str) -> None:
    parts = split_url(value)
    if parts is not None:
        assert parts.host
        assert parts.scheme in ("http", "https", "")


@given(st.from_regex(r"https?://[a-z0-9.-]{1,30}(/[ -~]{0,40})?(\?[ -~]{0,60})?", fullmatch=True))
def test_split_url_never_raises_on_url_shaped_input(value: str) -> None:
    split_url(value)


@given(st.text(max_size=200), st.frozensets(st.text(max_size=10), max_size=3))
def test_strip_query_keys_never_raises_and_only_shortens(url: str, keys: frozenset[str]) -> None:
    out = strip_query_keys(url, keys)
    assert len(out) <= len(url)


@given(st.text(max_size=100))
def test_registrable_domain_never_raises(host: str) -> None:
    assert isinstance(registrable_domain(host), str)


_URLISH = st.lists(
    st.sampled_from(
        [
            *"hHtTpPsS:/?#@[]%.aZ09-_=&+ ~!$'()*,;",
            *("http://", "https://", "HTTPS://", "//", ":80", "\t", "\x01", "é", "%41", "%zz"),
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=2000)
@given(_URLISH)
def test_the_plain_url_fast_path_agrees_with_urlsplit(value: str) -> None:
    fast = _split_plain(value)
    if fast is not None:
        parts = urlsplit(value)
        assert fast == (parts.scheme.lower(), parts.path, parts.query, parts.hostname)


def test_the_fast_path_takes_the_usual_urls_and_leaves_the_rest() -> None:
    assert _split_plain("https://Click.Shop.example:8443/c/1?u=2#f") == (
        "https",
        "/c/1",
        "u=2",
        "click.shop.example",
    )
    for value in ("https://user@host/", "http://[::1]/", "https://exa%6Dple.com/", "ftp://x/"):
        assert _split_plain(value) is None, value


@settings(max_examples=2000)
@given(st.lists(st.sampled_from([*"a=&+; ", "%20", "%zz", "%e9", "%C3%A9", "%", "é"]), max_size=30))
def test_query_parsing_agrees_with_parse_qsl(pieces: list[str]) -> None:
    raw = "".join(pieces)
    assert _parse_query(raw) == tuple(parse_qsl(raw, keep_blank_values=True))
