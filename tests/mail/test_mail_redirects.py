from __future__ import annotations

import base64
import json
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from trackpref.mail.redirects import embedded_url
from trackpref.mail.urls import split_url

TARGET = "https://shop.example/sale?utm_source=news&x=1"


def _embedded(url: str) -> tuple[str, str] | None:
    parts = split_url(url)
    assert parts is not None
    return embedded_url(parts)


def test_url_in_a_query_parameter() -> None:
    found = _embedded("https://www.google.com/url?sa=D&q=" + quote(TARGET, safe=""))
    assert found == (TARGET, "query parameter 'q'")
    found = _embedded("https://www.awin1.com/cread.php?awinmid=1&ued=" + quote(TARGET, safe=""))
    assert found is not None
    assert found[0] == TARGET


def test_double_encoded_url() -> None:
    found = _embedded("https://r.example/r?url=" + quote(quote(TARGET, safe=""), safe=""))
    assert found is not None
    assert found[0] == TARGET


def test_percent_encoded_path_segment() -> None:
    found = _embedded(
        f"https://x.r.us-east-1.awstrack.me/L0/{quote(TARGET, safe='')}/1/0100-abc/xyz=383"
    )
    assert found == (TARGET, "percent-encoded path segment")


def test_base64_json_token_and_nested_json_string() -> None:
    blob = base64.urlsafe_b64encode(json.dumps({"e": TARGET, "p": 1}).encode()).decode()
    assert _embedded(f"https://substack.com/redirect/2/{blob}?j=x") == (
        TARGET,
        "base64-encoded token",
    )
    inner = json.dumps({"u": 1, "url": TARGET})
    p = base64.urlsafe_b64encode(json.dumps({"p": inner}).encode()).decode()
    found = _embedded(f"https://mandrillapp.com/track/click/30/shop.example?p={p}")
    assert found is not None
    assert found[0] == TARGET


def test_json_nested_deeper_than_json_loads_recurses_is_no_url() -> None:
    blob = base64.urlsafe_b64encode(b'{"a":' * 2_000).decode()
    assert blob.startswith("eyJ")  # what the blob check decodes as JSON
    assert _embedded(f"https://substack.com/redirect/2/{blob}") is None


def test_standard_base64_split_over_path_segments() -> None:
    target = (
        "https://quillandink.example/collections/autumn-006?utm_source=newsletter&utm_medium=email"
    )
    encoded = base64.b64encode(target.encode()).decode()
    assert "/" in encoded
    found = _embedded(f"https://click.convertkit-mail2.com/abc123/def456/{encoded}")
    assert found is not None
    assert found[0] == target


def test_no_url_inside() -> None:
    assert (
        _embedded("https://us5.list-manage.com/track/click?u=3c9e9e13d7&id=ce66ec2f9f&e=c9edb6a9f6")
        is None
    )
    assert _embedded("https://shop.example/p?q=socks") is None


@given(st.text(max_size=300))
def test_embedded_url_never_raises(tail: str) -> None:
    parts = split_url("https://r.example/" + tail)
    if parts is not None:
        found = embedded_url(parts)
        if found is not None:
            assert split_url(found[0]) is not None


@given(st.binary(max_size=200))
def test_embedded_url_survives_arbitrary_base64(blob: bytes) -> None:
    token = "eyJ" + base64.urlsafe_b64encode(blob).decode()
    parts = split_url(f"https://r.example/c/{token}?p={token}")
    if parts is not None:
        embedded_url(parts)
