from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.domains import host_site
from trackpref.agent.referrer import trim_referrer


def same_site(a: str, b: str) -> bool:
    return host_site(a) == host_site(b)


def test_same_party_keeps_the_full_referrer() -> None:
    ref = "https://www.news.example/story/1?user=me"
    assert trim_referrer(ref, "cdn.news.example", same_site) == ref


def test_another_party_gets_the_origin_only() -> None:
    ref = "https://www.news.example:8443/story/1?user=me#x"
    assert trim_referrer(ref, "ads.example", same_site) == "https://www.news.example:8443/"


def test_nothing_is_added_and_odd_values_are_handled() -> None:
    assert trim_referrer(None, "a.example", same_site) is None
    assert trim_referrer("", "a.example", same_site) == ""
    assert (
        trim_referrer("android-app://com.example/", "a.example", same_site)
        == "android-app://com.example/"
    )
    assert trim_referrer("https://[::1/x", "a.example", same_site) is None
    assert trim_referrer("https:///nohost", "a.example", same_site) is None


@given(st.text(max_size=60))
def test_never_raises_and_never_lengthens(value: str) -> None:
    out = trim_referrer(value, "target.example", same_site)
    assert out is None or len(out) <= len(value.strip()) + 1 or out == value
