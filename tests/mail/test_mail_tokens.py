from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.mail.tokens import (
    could_vary,
    entropy,
    find_recipient,
    is_digest_name,
    is_slug,
    is_token,
    recipient_forms,
    split_extension,
)
from trackpref.mail.urls import split_url

ADDRESS = "Alice.Nguyen@Example.org"


@pytest.mark.parametrize(
    "value",
    [
        "c9edb6a9f6",  # Mailchimp's e= (10 hex digits)
        "3c9e9e13d7e6dae8faf375bed",
        "e855e0cb-25e8-47a9-8f3f-eb89de3776b6",  # a UUID
        "p2ANqtz-8aV3kLq0Zx1Yb7Wc",
        "eyJlIjoiaHR0cHM6Ly9zaG9wLmV4YW1wbGUvIn0",
        "1234567890123456",  # 16 digits
        "aGVsbG8gd29ybGQgaGVsbG8",
    ],
)
def test_tokens(value: str) -> None:
    assert is_token(value)


@pytest.mark.parametrize(
    "value",
    [
        "newsletter",
        "1699999999",  # a timestamp or version
        "merino-wool-sweater",
        "spring-sale-hero_v2",
        "newsletter_2024_05",
        "logo@2x.png",
        "600x600",
        "springSaleHero",
        "abc",
        "",
    ],
)
def test_not_tokens(value: str) -> None:
    assert not is_token(value)


def test_slugs_digests_and_extensions() -> None:
    assert is_slug("wool-sweater-600x600")
    assert not is_slug("e855e0cb-25e8-47a9")
    assert split_extension("logo.PNG") == ("logo", "png")
    assert split_extension("noext") == ("noext", "")
    assert is_digest_name("spacer-5c0e1c8a9a2e4f60.gif")
    assert not is_digest_name("5c0e1c8a9a2e4f60.gif")
    assert not is_digest_name("spacer-5c0e1c8a9a2e4f60.html")
    assert entropy("") == 0.0
    assert entropy("aaaa") == 0.0
    assert entropy("abcd") == pytest.approx(2.0)


def test_could_vary_is_looser_than_is_token_but_skips_words() -> None:
    assert could_vary("a1b2c3")
    assert could_vary("AbCdEf")
    assert not could_vary("products")
    assert not could_vary("wool-beanie.jpg")
    assert not could_vary("12345")


def _find(url: str) -> str | None:
    parts = split_url(url)
    assert parts is not None
    return find_recipient(parts, recipient_forms([ADDRESS]))


def test_recipient_address_in_every_usual_spelling() -> None:
    lower = ADDRESS.lower()
    md5 = hashlib.md5(lower.encode()).hexdigest()
    sha1 = hashlib.sha1(lower.encode()).hexdigest()
    sha256 = hashlib.sha256(ADDRESS.encode()).hexdigest()
    b64 = base64.urlsafe_b64encode(lower.encode()).decode().rstrip("=")
    blob = base64.urlsafe_b64encode(json.dumps({"r": lower, "c": 7}).encode()).decode()
    assert _find(f"https://t.example/o?e={lower}") == "recipient's address"
    assert _find("https://t.example/o?e=alice.nguyen%40example.org") is not None
    assert _find(f"https://t.example/o/{md5.upper()}.gif") == "MD5 of the recipient's address"
    assert _find(f"https://t.example/o?h={sha1}") == "SHA-1 of the recipient's address"
    assert _find(f"https://t.example/o?h={sha256}") == "SHA-256 of the recipient's address"
    assert _find(f"https://t.example/o?u={b64}") == "recipient's address in base64"
    assert _find(f"https://t.example/o/{blob}") == "recipient's address in a base64-encoded token"
    assert _find("https://t.example/o?e=bob@example.org") is None
    parts = split_url("https://t.example/o?e=x")
    assert parts is not None
    assert find_recipient(parts, recipient_forms([])) is None


@given(st.text(max_size=120))
def test_token_predicates_never_raise(value: str) -> None:
    assert isinstance(is_token(value), bool)
    assert isinstance(could_vary(value), bool)
    assert isinstance(is_slug(value), bool)
    assert isinstance(is_digest_name(value), bool)
    assert entropy(value) >= 0.0


@given(st.text(max_size=200), st.lists(st.text(max_size=40), max_size=3))
def test_find_recipient_never_raises(url: str, addresses: list[str]) -> None:
    parts = split_url("https://t.example/" + url)
    if parts is not None:
        find_recipient(parts, recipient_forms([*addresses, ADDRESS]))


@given(st.emails())
def test_any_address_is_found_by_its_md5(address: str) -> None:
    digest = hashlib.md5(address.lower().encode("utf-8", "surrogatepass")).hexdigest()
    parts = split_url(f"https://t.example/open?e={digest}")
    assert parts is not None
    assert find_recipient(parts, recipient_forms([address])) is not None
